// The one translation unit that holds Catch2's main; every test file links against it.
// Beside Catch's own run, it counts test cases and those that called LATENT_SKIP: a run in
// which every test case was skipped exits with latent_test::skip_exit_code, which ctest reports
// as Skipped (see support/skip.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support/skip.hpp"

namespace {

int cases_run = 0, cases_skipped = 0;

struct CountSkips : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    TestEventListenerBase::testCaseStarting(info);
    latent_test::test_case_skipped() = false;
  }
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    ++cases_run;
    if (latent_test::test_case_skipped()) ++cases_skipped;
    TestEventListenerBase::testCaseEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(CountSkips)

int main(int argc, char* argv[]) {
  const int failures = Catch::Session().run(argc, argv);
  if (failures == 0 && cases_run > 0 && cases_skipped == cases_run) return latent_test::skip_exit_code;
  return failures;
}
