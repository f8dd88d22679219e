#include <fstream>

#include <catch2/catch.hpp>

#include "latent/data/csv.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

TEST_CASE("CSV rows become columns; header skipped; label column split off", "[data]") {
  const auto d = latent::parse_csv<double>("a;label;b\r\n1.5; 3 ;-2\n\n4e2;0;0.25\n", "t.csv",
                                           {.delimiter = ';', .header = true, .label_column = 1});
  REQUIRE(d.dim() == 2);
  REQUIRE(d.size() == 2);
  CHECK(d.features(0, 0) == 1.5);
  CHECK(d.features(1, 0) == -2.0);
  CHECK(d.features(0, 1) == 400.0);
  CHECK(d.features(1, 1) == 0.25);
  CHECK(d.labels == std::vector<int>{3, 0});
}

TEST_CASE("CSV without header or labels, read from a file", "[data]") {
  latent_test::TempDir dir;
  std::ofstream(dir / "x.csv") << "1,2,3\n4,5,6";
  const auto d = latent::read_csv<float>(dir / "x.csv");
  CHECK(d.dim() == 3);
  CHECK(d.size() == 2);
  CHECK(d.features(2, 1) == 6.0f);
  CHECK_FALSE(d.has_labels());
}

TEST_CASE("bad CSV fields name the file, line and column", "[data]") {
  const auto parse = [](const char* text, latent::CsvOptions o = {}) { return latent::parse_csv<float>(text, "t.csv", o); };
  CHECK_THROWS_AS(parse("1,2\n3,x4\n"), latent::FormatError);
  CHECK_THROWS_WITH(parse("1,2\n3,x4\n"), Contains("t.csv: line 2, column 2: 'x4' is not a finite number"));
  CHECK_THROWS_WITH(parse("h1,h2\n1,2\n3,\n", {.header = true}), Contains("line 3, column 2: ''"));
  CHECK_THROWS_WITH(parse("1,nan\n"), Contains("line 1, column 2: 'nan' is not a finite number"));
  CHECK_THROWS_WITH(parse("1,1e999\n"), Contains("line 1, column 2"));
  CHECK_THROWS_WITH(parse("1,2\n3\n"), Contains("line 2: 1 fields, expected 2"));
  CHECK_THROWS_WITH(parse("1,2.5\n", {.label_column = 1}), Contains("line 1, column 2: '2.5' is not an integer label"));
  CHECK_THROWS_WITH(parse("1,2\n", {.label_column = 4}), Contains("label column 5 but rows have 2 fields"));
}

TEST_CASE("a missing CSV file is an IoError", "[data]") {
  CHECK_THROWS_AS(latent::read_csv<float>("/nonexistent/x.csv"), latent::IoError);
}
