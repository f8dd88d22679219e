#include <fstream>

#include <catch2/catch.hpp>

#include "latent/data/csv.hpp"
#include "support/skip.hpp"
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
  const auto parse = [](const char* text, latent::CsvOptions o = {}) {
    return latent::parse_csv<float>(text, "t.csv", o);
  };
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

TEST_CASE("CSV without data is an error, not an empty dataset", "[data]") {
  const auto parse = [](const char* text, latent::CsvOptions o = {}) {
    return latent::parse_csv<float>(text, "t.csv", o);
  };
  CHECK_THROWS_AS(parse(""), latent::FormatError);
  CHECK_THROWS_WITH(parse(""), Contains("t.csv: no data: the text is empty or blank"));
  CHECK_THROWS_WITH(parse("\n \n\r\n"), Contains("no data"));
  CHECK_THROWS_WITH(parse("a,b,c\n", {.header = true}), Contains("t.csv: a header line but no data lines"));
  CHECK_THROWS_WITH(parse("1\n2\n", {.label_column = 0}), Contains("no feature columns"));
  CHECK_THROWS_WITH(parse("1\n", {.label_column = -2}), Contains("label_column must be -1"));
  latent_test::TempDir dir;
  std::ofstream(dir / "empty.csv").flush();
  CHECK_THROWS_WITH(latent::read_csv<float>(dir / "empty.csv"), Contains("empty.csv: no data"));
}

TEST_CASE("CSV: a UTF-8 byte-order mark is skipped, quoted fields are read, invisible bytes are shown", "[data]") {
  const auto d =
      latent::parse_csv<double>("\xEF\xBB\xBF\"width, cm\",\"say \"\"hi\"\"\",label\n\"1.5\", 2 ,\"3\"\n4,\"5\",6\n",
                                "t.csv", {.header = true, .label_column = 2});
  REQUIRE(d.dim() == 2);
  REQUIRE(d.size() == 2);
  CHECK(d.features(0, 0) == 1.5);
  CHECK(d.features(1, 1) == 5.0);
  CHECK(d.labels == std::vector<int>{3, 6});
  // A header name may span lines inside quotes; line numbers still count every line.
  const auto e = latent::parse_csv<float>("\"a\nb\",c\n1,2\n", "t.csv", {.header = true});
  CHECK(e.size() == 1);
  CHECK_THROWS_WITH(latent::parse_csv<float>("\"a\nb\",c\n1,x\n", "t.csv", {.header = true}),
                    Contains("line 3, column 2"));
  CHECK_THROWS_WITH(latent::parse_csv<float>("1,\"2\n", "t.csv"), Contains("line 1: a quoted field is never closed"));
  CHECK_THROWS_WITH(latent::parse_csv<float>("1,\"2\"x\n", "t.csv"), Contains("after a closing quote"));
  // A byte-order mark anywhere but the start is data, shown as bytes instead of an invisible character.
  CHECK_THROWS_WITH(latent::parse_csv<float>("1,\xEF\xBB\xBF"
                                             "2\n",
                                             "t.csv"),
                    Contains("column 2: '\\xEF\\xBB\\xBF2' is not a finite number"));
}

TEST_CASE("CSV: a header row picks the label and the feature columns by name", "[data]") {
  const char* text = "id,b,label,a\nx7,2,1,0.5\ny8,4,0,1.5\n";
  const auto d =
      latent::parse_csv<float>(text, "t.csv", {.header = true, .label_name = "label", .columns = {"a", "b"}});
  REQUIRE(d.dim() == 2);
  REQUIRE(d.size() == 2);
  CHECK(d.features(0, 0) == 0.5f);  // a, in the order asked for
  CHECK(d.features(1, 0) == 2.0f);  // b
  CHECK(d.features(0, 1) == 1.5f);
  CHECK(d.labels == std::vector<int>{1, 0});
  // Without `columns`, every column but the label's is a feature: "id" holds text.
  CHECK_THROWS_WITH(latent::parse_csv<float>(text, "t.csv", {.header = true, .label_name = "label"}),
                    Contains("line 2, column 1: 'x7' is not a finite number"));
  CHECK_THROWS_WITH(latent::parse_csv<float>(text, "t.csv", {.header = true, .label_name = "class"}),
                    Contains("t.csv: line 1: no column named 'class' in the header ('id', 'b', 'label', 'a')"));
  CHECK_THROWS_WITH(latent::parse_csv<float>(text, "t.csv", {.header = true, .columns = {"a", "c"}}),
                    Contains("no column named 'c'"));
  CHECK_THROWS_AS(latent::parse_csv<float>(text, "t.csv", {.label_name = "label"}), latent::Error);
  CHECK_THROWS_WITH(latent::parse_csv<float>(text, "t.csv", {.label_name = "label"}), Contains("header is false"));
  CHECK_THROWS_WITH(latent::parse_csv<float>(text, "t.csv", {.header = true, .label_column = 0, .label_name = "a"}),
                    Contains("both label_column and label_name"));
  CHECK_THROWS_WITH(
      latent::parse_csv<float>(text, "t.csv", {.header = true, .label_name = "label", .columns = {"label"}}),
      Contains("t.csv: line 1: column 'label' (column 3) is both a feature and the label"));
}

TEST_CASE("CSV: a .csv.gz file is read through the gzip reader", "[data]") {
  if (!latent::has_zlib) LATENT_SKIP("latent built without zlib");
  latent_test::TempDir dir;
  // "a,label\n1.5,2\n-3,4\n" compressed by Python's gzip.compress(data, mtime=0).
  const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4b, 0xd4, 0xc9,
                              0x49, 0x4c, 0x4a, 0xcd, 0xe1, 0x32, 0xd4, 0x33, 0xd5, 0x31, 0xe2, 0xd2, 0x35,
                              0xd6, 0x31, 0xe1, 0x02, 0x00, 0x3b, 0x74, 0xba, 0x97, 0x13, 0x00, 0x00, 0x00};
  std::ofstream(dir / "t.csv.gz", std::ios::binary).write(reinterpret_cast<const char*>(gz), sizeof gz);
  const auto d = latent::read_csv<double>(dir / "t.csv.gz", {.header = true, .label_name = "label"});
  REQUIRE(d.dim() == 1);
  REQUIRE(d.size() == 2);
  CHECK(d.features(0, 1) == -3.0);
  CHECK(d.labels == std::vector<int>{2, 4});
  // One byte cut off the end: the gzip reader's FormatError, naming the file.
  std::ofstream(dir / "cut.csv.gz", std::ios::binary).write(reinterpret_cast<const char*>(gz), sizeof gz - 1);
  CHECK_THROWS_WITH(latent::read_csv<double>(dir / "cut.csv.gz"), Contains("cut.csv.gz: truncated gzip stream"));
}
