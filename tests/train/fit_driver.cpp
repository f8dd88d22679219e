// A small training program that tests of fit drive from outside (tests/train/test_fit_resume.cpp):
// a float VAE on synthetic data, checkpointed every epoch, printing every epoch's losses as
// exact hex floats and finally the trained parameters' checkpoint. Flags make it stop where a
// test wants to kill or signal it:
//   --out DIR --epochs N --threads T [--resume]
//   [--pause-after-epoch E]  after epoch E's checkpoint: print "paused" and sleep (for SIGKILL)
//   [--wait-at-step K]       after step K: print "paused", wait for SIGINT/SIGTERM, go on
//   [--hang-at-step K]       after step K: print "paused" and sleep, ignoring the first signal
//   [--nan-at-step K]        before step K: a decoder weight becomes NaN

#include <latent/latent.hpp>
#include <latent/train.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include <unistd.h>

namespace {

long flag(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return fallback;
}
bool has(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}
std::string text(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return "";
}

latent::Dataset<float> synthetic(Eigen::Index n, std::uint64_t seed) {
  latent::Rng rng(seed);
  latent::Dataset<float> d;
  d.features.resize(12, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < 12; ++i)
      d.features(i, j) = float(0.5 + 0.4 * std::sin(double(i * (j % 7) + 1)) * rng.uniform());
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path out = text(argc, argv, "--out");
  const int epochs = int(flag(argc, argv, "--epochs", 6));
  const long pause_after = flag(argc, argv, "--pause-after-epoch", -1);
  const long wait_at = flag(argc, argv, "--wait-at-step", -1);
  const long hang_at = flag(argc, argv, "--hang-at-step", -1);
  const long nan_at = flag(argc, argv, "--nan-at-step", -1);
  latent::set_num_threads(int(flag(argc, argv, "--threads", 1)));

  const auto train = synthetic(200, 11), validation = synthetic(60, 12);
  latent::Rng rng(5);
  auto vae = latent::Vae<float>::mlp({.input = 12, .hidden = {32}, .latent = 3}, rng);
  latent::Adam<float> adam(vae.parameters(), {.lr = 3e-3});

  latent::FitOptions<float> options{.epochs = epochs,
                                    .batch_size = 16,  // 13 batches, the last of 8
                                    .beta = latent::ValueSchedule::linear_warmup(1.0, 20),
                                    .clip_grad_norm = 50,
                                    .rng = &rng,
                                    .checkpoint = out / "run.ckpt"};
  if (has(argc, argv, "--resume")) options.resume_from = options.checkpoint;
  latent::Callback<float> script;
  script.on_epoch_begin = [&](latent::FitState<float>& s) {
    if (s.epoch == pause_after + 1) {
      std::printf("paused\n");
      std::fflush(stdout);
      for (;;) ::pause();
    }
  };
  script.on_step_begin = [&](latent::FitState<float>& s) {
    if (s.step + 1 == nan_at) vae.decoder().parameters()[0]->value(0, 0) = std::numeric_limits<float>::quiet_NaN();
  };
  script.on_step_end = [&](latent::FitState<float>& s) {
    if (s.step != wait_at && s.step != hang_at) return;
    std::printf("paused\n");
    std::fflush(stdout);
    if (s.step == hang_at)
      for (;;) ::pause();
    while (latent::detail::stop_signal == 0) ::usleep(1000);
  };
  script.on_epoch_end = [](latent::FitState<float>& s) {
    const auto& e = s.history.epochs.back();
    std::printf("epoch=%d train=%a recon=%a kl=%a val=%a val_recon=%a val_kl=%a beta=%a\n", e.epoch, e.train.total,
                e.train.terms[0], e.train.terms[1], e.validation->total, e.validation->terms[0], e.validation->terms[1],
                e.beta);
    std::fflush(stdout);
  };
  options.callbacks.push_back(script);
  try {
    const latent::History h = latent::fit(vae, adam, train, validation, options);
    std::printf("stop=%s steps=%ld\n", latent::to_string(h.stop_reason), h.steps);
    latent::save_checkpoint(out / "final.ckpt", vae, &adam, &rng);
  } catch (const latent::NumericError& e) {
    std::printf("error: %s\n", e.what());
    return 3;
  }
  return 0;
}
