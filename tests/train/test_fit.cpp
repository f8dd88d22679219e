// fit in one process: early stopping and keep-best on a scripted validation curve, a NaN term
// named, schedules, the metrics log, evaluate, and a process killed while it writes a checkpoint
// at many byte offsets (the previous checkpoint stays whole and loadable).

#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <latent/latent.hpp>
#include <latent/train.hpp>

#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

namespace {

using M = latent::Matrix<float>;

// A user objective: a linear model y = W x trained towards 0, whose validation loss follows a
// script (one value per evaluate call) and whose "b" term can be made NaN at a step.
struct Scripted {
  latent::Linear<float> layer;
  std::vector<double> curve;
  std::size_t evaluated = 0;
  long nan_at = -1, calls = 0;

  explicit Scripted(std::vector<double> c, latent::Rng& rng) : layer(4, 2, rng), curve(std::move(c)) {}
  latent::Module<float>& model() { return layer; }
  std::vector<std::string> term_names() const { return {"a", "b"}; }
  latent::LossTerms<float> loss(latent::Tape<float>& tape, const latent::Batch<float>& batch, latent::Rng&,
                                const latent::StepInfo&) {
    const auto y = layer.forward(tape, tape.constant(batch.x));
    const auto a = latent::mean(latent::colwise_sum(latent::square(y)));
    M b_value(1, 1);
    b_value(0, 0) = ++calls == nan_at ? std::numeric_limits<float>::quiet_NaN() : 0.5f;
    const auto b = tape.constant(b_value);
    return {a + b, {a, b}, 2};
  }
  latent::LossTerms<float> evaluate(latent::Tape<float>& tape, const latent::Batch<float>&, latent::Rng&) {
    M v(1, 1);
    v(0, 0) = float(curve.at(evaluated++));
    const auto c = tape.constant(v);
    return {c, {c, c}, 2};
  }
};

latent::Dataset<float> data(Eigen::Index n) {
  latent::Rng rng(3);
  latent::Dataset<float> d;
  d.features = M::NullaryExpr(4, n, [&] { return float(rng.uniform()); });
  return d;
}

std::vector<M> weights(latent::Module<float>& m) {
  std::vector<M> w;
  for (auto* p : m.parameters()) w.push_back(p->value);
  return w;
}

}  // namespace

TEST_CASE("early stopping stops at the epoch the scripted curve says", "[train]") {
  // Best 3.0 at epoch 3; 3.5, 3.2, 3.0 (not below 3.0 - 0.01) are 3 epochs without improvement.
  latent::Rng rng(1);
  Scripted obj({5, 4, 3, 3.5, 3.2, 3.0, 1, 1, 1, 1}, rng);
  latent::Sgd<float> sgd(obj.layer.parameters(), {.lr = 0.01});
  const auto train = data(40), val = data(10);
  latent::FitOptions<float> o{.epochs = 10, .batch_size = 8};
  o.callbacks.push_back(latent::early_stopping<float>({.monitor = "val_loss", .patience = 3, .min_delta = 0.01}));
  const latent::History h = latent::fit(obj, sgd, train, val, o);
  CHECK(h.stop_reason == latent::StopReason::early_stopping);
  CHECK(h.epochs.size() == 6);
  CHECK_THAT(h.stop_detail, Contains("val_loss did not improve") && Contains("at epoch 3"));
  CHECK(h.steps == 30);
  CHECK(obj.evaluated == 6);
}

TEST_CASE("early stopping after a resume stops where the uninterrupted run did", "[train]") {
  latent_test::TempDir dir;
  const auto train = data(40), val = data(10);
  const std::vector<double> curve{5, 4, 3, 3.5, 3.2, 3.0, 1, 1};
  latent::FitOptions<float> o{.epochs = 4, .batch_size = 8, .checkpoint = dir / "run.ckpt"};
  o.callbacks.push_back(latent::early_stopping<float>({.patience = 3, .min_delta = 0.01}));
  latent::Rng rng(1);
  Scripted first(curve, rng);
  latent::Sgd<float> sgd(first.layer.parameters(), {.lr = 0.01});
  CHECK(latent::fit(first, sgd, train, val, o).stop_reason == latent::StopReason::completed);

  Scripted second(std::vector<double>(curve.begin() + 4, curve.end()), rng);
  latent::Sgd<float> sgd2(second.layer.parameters(), {.lr = 0.01});
  o.epochs = 10;
  o.resume_from = o.checkpoint;
  const latent::History h = latent::fit(second, sgd2, train, val, o);
  CHECK(h.stop_reason == latent::StopReason::early_stopping);
  CHECK(h.epochs.size() == 6);

  // Resuming the stopped run trains no further.
  Scripted third(curve, rng);
  latent::Sgd<float> sgd3(third.layer.parameters(), {.lr = 0.01});
  const latent::History again = latent::fit(third, sgd3, train, val, o);
  CHECK(again.stop_reason == latent::StopReason::early_stopping);
  CHECK(again.epochs.size() == 6);
  CHECK(third.evaluated == 0);
}

// A small Vae with Dropout in both networks (Dropout draws in every training forward).
latent::Vae<float> vae_with_dropout() {
  latent::Rng init(11);
  latent::Sequential<float> trunk;
  trunk.emplace<latent::Linear<float>>(6, 8, init);
  trunk.emplace<latent::Tanh<float>>();
  trunk.emplace<latent::Dropout<float>>(0.3, init.split(1));
  latent::GaussianEncoder<float> encoder(std::move(trunk), {.input = 8, .latent = 2}, init);
  latent::Sequential<float> network;
  network.emplace<latent::Linear<float>>(2, 8, init);
  network.emplace<latent::Tanh<float>>();
  network.emplace<latent::Dropout<float>>(0.3, init.split(2));
  network.emplace<latent::Linear<float>>(8, 6, init);
  return latent::Vae<float>(std::move(encoder), latent::Decoder<float>(std::move(network), {}), 6);
}

TEST_CASE("a model with Dropout resumes to the uninterrupted run: fit's generator draws the masks", "[train][resume]") {
  latent_test::TempDir dir;
  latent::Dataset<float> train;
  train.features.resize(6, 48);
  latent::Rng(5).fill_uniform(train.features);
  const latent::FitOptions<float> straight_options{.epochs = 4, .batch_size = 8, .seed = 3};

  latent::Vae<float> straight = vae_with_dropout();
  latent::Adam<float> adam(straight.parameters(), {.lr = 0.01});
  latent::fit(straight, adam, train, straight_options);

  auto options = straight_options;
  options.epochs = 2;
  options.checkpoint = dir / "run.ckpt";
  latent::Vae<float> first = vae_with_dropout();
  latent::Adam<float> adam1(first.parameters(), {.lr = 0.01});
  latent::fit(first, adam1, train, options);
  latent::Vae<float> resumed = vae_with_dropout();  // its Dropouts' own streams start afresh
  latent::Adam<float> adam2(resumed.parameters(), {.lr = 0.01});
  options.epochs = 4;
  options.resume_from = options.checkpoint;
  latent::fit(resumed, adam2, train, options);

  const auto a = straight.named_parameters(), b = resumed.named_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    INFO(a[k].first);
    CHECK(a[k].second->value == b[k].second->value);
  }
}

// A user objective whose evaluation holds `rows_per_example` extra rows of tape per example (as
// a conv net's patches do) and remembers the batch sizes it was given.
struct Heavy {
  latent::Linear<float> layer;
  Eigen::Index rows_per_example;
  std::vector<Eigen::Index> sizes;

  Heavy(Eigen::Index rows, latent::Rng& rng) : layer(4, 2, rng), rows_per_example(rows) {}
  latent::Module<float>& model() { return layer; }
  std::vector<std::string> term_names() const { return {"a"}; }
  latent::LossTerms<float> loss(latent::Tape<float>& tape, const latent::Batch<float>& batch, latent::Rng& rng,
                                const latent::StepInfo&) {
    return evaluate(tape, batch, rng);
  }
  latent::LossTerms<float> evaluate(latent::Tape<float>& tape, const latent::Batch<float>& batch, latent::Rng&) {
    sizes.push_back(batch.x.cols());
    if (rows_per_example > 0) tape.record("scratch", rows_per_example, batch.x.cols());
    const auto a = latent::mean(latent::colwise_sum(latent::square(layer.forward(tape, tape.constant(batch.x)))));
    return {a, {a}, 1};
  }
};

TEST_CASE("evaluation batches shrink to 32 MB of tape, and the metrics stay the means over all examples", "[train]") {
  const auto val = data(300);
  latent::Rng init(2), rng(1);
  Heavy light(0, init), heavy(100000, init);  // heavy: 400 kB of tape per example
  heavy.layer.weight().value = light.layer.weight().value;
  heavy.layer.bias().value = light.layer.bias().value;
  const latent::Metrics a = latent::evaluate(light, val, rng, 1000), b = latent::evaluate(heavy, val, rng, 1000);
  // Each example evaluated once: light in batches of 64 (whose tape measures an example) and the
  // other 236; heavy in batches of at most 32 MB of tape after the first.
  CHECK(light.sizes == std::vector<Eigen::Index>{64, 236});
  REQUIRE(heavy.sizes.size() == 1 + 3);
  CHECK(heavy.sizes[0] == 64);
  const Eigen::Index budget = Eigen::Index(32) << 20, scratch_bytes = 100000 * 4;
  CHECK(heavy.sizes[1] * scratch_bytes <= budget);              // fits
  CHECK((heavy.sizes[1] + 1) * (scratch_bytes + 64) > budget);  // and is not needlessly small
  CHECK(heavy.sizes[1] + heavy.sizes[2] + heavy.sizes[3] == 236);
  CHECK(std::abs(a.total - b.total) <= 1e-6 * std::abs(a.total));
  // A smaller batch_size is kept.
  heavy.sizes.clear();
  latent::evaluate(heavy, val, rng, 50);
  CHECK(heavy.sizes == std::vector<Eigen::Index>{50, 50, 50, 50, 50, 50});
}

TEST_CASE("keep_best puts back the weights of the best validation epoch", "[train]") {
  latent_test::TempDir dir;
  latent::Rng rng(1);
  Scripted obj({5, 4, 2, 3, 6, 2.5}, rng);
  latent::Sgd<float> sgd(obj.layer.parameters(), {.lr = 0.05});
  const auto train = data(40), val = data(10);
  std::vector<std::vector<M>> after_epoch;
  latent::FitOptions<float> o{.epochs = 6, .batch_size = 8};
  o.callbacks.push_back(latent::keep_best<float>({.monitor = "val_loss"}, dir / "best.ckpt"));
  latent::Callback<float> record;
  record.on_epoch_end = [&](latent::FitState<float>& s) { after_epoch.push_back(weights(s.model)); };
  o.callbacks.push_back(record);
  latent::fit(obj, sgd, train, val, o);
  REQUIRE(after_epoch.size() == 6);
  REQUIRE(after_epoch[2] != after_epoch[5]);
  CHECK(weights(obj.layer) == after_epoch[2]);
  // The best is also on disk as an ordinary checkpoint.
  latent::Linear<float> other(4, 2, rng);
  latent::load_checkpoint(dir / "best.ckpt", other);
  CHECK(weights(other) == after_epoch[2]);
}

TEST_CASE("a term that becomes NaN stops fit with a NumericError naming it", "[train]") {
  latent_test::TempDir dir;
  latent::Rng rng(1);
  Scripted obj({1, 1, 1, 1}, rng);
  obj.nan_at = 13;  // epoch 3 (5 batches per epoch), batch 3
  latent::Sgd<float> sgd(obj.layer.parameters(), {.lr = 0.01});
  const auto train = data(40), val = data(10);
  latent::FitOptions<float> o{.epochs = 4, .batch_size = 8, .checkpoint = dir / "run.ckpt"};
  CHECK_THROWS_MATCHES(
      latent::fit(obj, sgd, train, val, o), latent::NumericError,
      Catch::Matchers::Message("fit: epoch 3, batch 3, step 13: the b term became non-finite; the last checkpoint is "
                               "intact: " +
                               (dir / "run.ckpt").string() + " (epoch 2)"));
}

TEST_CASE("the lr and beta schedules are evaluated before every step", "[train]") {
  latent::Rng rng(1);
  auto vae = latent::Vae<float>::mlp({.input = 4, .hidden = {8}, .latent = 2}, rng);
  latent::Adam<float> adam(vae.parameters());
  const auto train = data(40);
  std::vector<double> lrs, betas;
  latent::FitOptions<float> o{.epochs = 2,
                              .batch_size = 10,
                              .lr = latent::ValueSchedule::per_epoch(latent::StepDecay(1e-2, 1, 0.5)),
                              .beta = latent::ValueSchedule::linear_warmup(2.0, 5),
                              .rng = &rng};
  latent::Callback<float> record;
  record.on_step_end = [&](latent::FitState<float>& s) {
    lrs.push_back(s.optimizer.lr());
    betas.push_back(s.beta);
  };
  o.callbacks.push_back(record);
  const latent::History h = latent::fit(vae, adam, train, o);
  CHECK(lrs == std::vector<double>{1e-2, 1e-2, 1e-2, 1e-2, 5e-3, 5e-3, 5e-3, 5e-3});
  CHECK(betas == std::vector<double>{0.4, 0.8, 1.2, 1.6, 2.0, 2.0, 2.0, 2.0});
  CHECK(h.epochs[1].beta == 2.0);
  CHECK(h.epochs[1].lr == 5e-3);
  CHECK_FALSE(h.epochs[1].validation.has_value());
  const auto cyc = latent::ValueSchedule::cyclical(1.0, 4, 0.5);
  CHECK(cyc.at({0, 0}) == 0.0);
  CHECK(cyc.at({0, 1}) == 0.5);
  CHECK(cyc.at({0, 3}) == 1.0);
  CHECK(cyc.at({0, 5}) == 0.5);
}

TEST_CASE("validation_split holds out data, and evaluate reports the VAE's terms in nats per example", "[train]") {
  latent::Rng rng(1);
  auto vae = latent::Vae<float>::mlp({.input = 4, .hidden = {8}, .latent = 2}, rng);
  latent::Adam<float> adam(vae.parameters());
  const auto all = data(50);
  const latent::History h =
      latent::fit(vae, adam, all, latent::FitOptions<float>{.epochs = 1, .batch_size = 10, .validation_split = 0.2});
  REQUIRE(h.epochs.size() == 1);
  REQUIRE(h.epochs[0].validation.has_value());
  CHECK(h.term_names == std::vector<std::string>{"recon", "kl"});
  const auto& v = *h.epochs[0].validation;
  CHECK(v.total == Approx(v.terms[0] + v.terms[1]).epsilon(1e-5));

  // evaluate: the mean over batches of 7 equals the per-example ELBO on one batch of all.
  latent::Rng r1(9), r2(9);
  const latent::Metrics small = latent::evaluate(vae, all, r1, 7);
  latent::Tape<float> tape;
  const auto e = vae.elbo(tape, tape.constant(all.features), r2);
  CHECK(small.terms[1] == Approx(double(e.kl.item())).epsilon(1e-5));
}

TEST_CASE("metrics_log writes every epoch once, as CSV or JSON lines", "[train]") {
  latent_test::TempDir dir;
  latent::Rng rng(1);
  Scripted obj({3, 2}, rng);
  latent::Sgd<float> sgd(obj.layer.parameters(), {.lr = 0.01});
  const auto train = data(40), val = data(10);
  latent::FitOptions<float> o{.epochs = 2, .batch_size = 8};
  o.callbacks.push_back(latent::metrics_log<float>(dir / "log.csv"));
  o.callbacks.push_back(latent::metrics_log<float>(dir / "log.jsonl", latent::LogFormat::json_lines));
  latent::fit(obj, sgd, train, val, o);
  std::ifstream csv(dir / "log.csv"), json(dir / "log.jsonl");
  std::string header, l1, l2, j1, j2, extra;
  std::getline(csv, header);
  std::getline(csv, l1);
  std::getline(csv, l2);
  CHECK(header == "epoch,train_loss,train_a,train_b,val_loss,val_a,val_b,seconds,lr,beta");
  CHECK_THAT(l2, Contains("2,") && Contains(",2,2,2,"));
  CHECK_FALSE(std::getline(csv, extra));
  std::getline(json, j1);
  std::getline(json, j2);
  CHECK_THAT(j1, Contains("{\"epoch\":1,\"train_loss\":") && Contains("\"val_loss\":3,"));
  CHECK_FALSE(std::getline(json, extra));
}

TEST_CASE("killed while writing a checkpoint, at many bytes: the previous one stays whole", "[train][resume]") {
  latent_test::TempDir dir;
  const auto train = data(40);
  const auto path = dir / "run.ckpt";
  latent::Rng rng(1);
  auto vae = latent::Vae<float>::mlp({.input = 4, .hidden = {8}, .latent = 2}, rng);
  latent::Adam<float> adam(vae.parameters());
  latent::FitOptions<float> o{.epochs = 1, .batch_size = 10, .rng = &rng, .checkpoint = path};
  latent::fit(vae, adam, train, o);
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> before{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const long size = long(before.size());
  REQUIRE(size > 1000);

  // A child resumes for epoch 2 and is killed by SIGXFSZ when its checkpoint write reaches byte k.
  int killed = 0;
  for (long k = 0; k < size + 64; k += k < 64 ? 1 : 97) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      rlimit core{0, 0};
      ::setrlimit(RLIMIT_CORE, &core);
      rlimit limit{rlim_t(k), rlim_t(k)};
      std::signal(SIGXFSZ, SIG_DFL);
      ::setrlimit(RLIMIT_FSIZE, &limit);
      latent::FitOptions<float> more = o;
      more.epochs = 2;
      more.resume_from = path;
      try {
        latent::fit(vae, adam, train, more);
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO("killed at byte " << k);
    std::ifstream now_in(path, std::ios::binary);
    const std::vector<char> now{std::istreambuf_iterator<char>(now_in), std::istreambuf_iterator<char>()};
    if (WIFSIGNALED(status)) {
      ++killed;
      CHECK(WTERMSIG(status) == SIGXFSZ);
      CHECK(now == before);
    } else {
      // The limit let the whole file through: the new checkpoint replaced the old one.
      CHECK(WEXITSTATUS(status) == 0);
      CHECK(k >= size);
    }
    // Whatever is at the path loads.
    latent::Rng r(0);
    auto other = latent::Vae<float>::mlp({.input = 4, .hidden = {8}, .latent = 2}, r);
    latent::Adam<float> other_adam(other.parameters());
    const latent::FitPosition p = latent::load_fit_checkpoint(path, other, other_adam, r);
    CHECK(p.epochs_done == (WIFSIGNALED(status) ? 1 : 2));
    if (!WIFSIGNALED(status)) break;
  }
  CHECK(killed > 70);
}

TEST_CASE("clip_grad_norm bounds every step of fit", "[train]") {
  const auto train = data(40);
  const auto moved = [&](double clip) {
    latent::Rng rng(1);
    Scripted obj({}, rng);
    latent::Sgd<float> sgd(obj.layer.parameters(), {.lr = 1.0});
    const std::vector<M> before = weights(obj.layer);
    latent::FitOptions<float> o{.epochs = 1, .batch_size = 8, .clip_grad_norm = clip, .divergence_factor = 0};
    latent::fit(obj, sgd, train, o);
    double squared = 0;
    const std::vector<M> after = weights(obj.layer);
    for (std::size_t k = 0; k < after.size(); ++k) squared += double((after[k] - before[k]).squaredNorm());
    return std::sqrt(squared);
  };
  // SGD with lr 1 moves the weights by the clipped gradient: at most 1e-3 per step, 5 steps.
  CHECK(moved(1e-3) <= 5e-3 * (1 + 1e-4));
  CHECK(moved(1e-3) > 1e-3);
  CHECK(moved(0) > 1e-2);
}
