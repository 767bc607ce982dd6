#include "core/units.h"

#include <gtest/gtest.h>

using namespace nodeops;

TEST(Units, ParsesDurations) {
  EXPECT_EQ(parse_duration("500ms"), Duration(500));
  EXPECT_EQ(parse_duration("5s"), Duration(5000));
  EXPECT_EQ(parse_duration("1.5s"), Duration(1500));
  EXPECT_EQ(parse_duration("2m"), Duration(120000));
  EXPECT_EQ(parse_duration("1h"), Duration(3600000));
}

TEST(Units, RejectsDurationsWithoutUnitsOrGarbage) {
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("5d"));
}

TEST(Units, ParsesSizes) {
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("2MB"), 2000000u);
  EXPECT_FALSE(parse_size("1XB"));
}

TEST(Units, FormatsDurationsBack) {
  EXPECT_EQ(format_duration(Duration(1500)), "1500ms");
  EXPECT_EQ(format_duration(Duration(5000)), "5s");
  EXPECT_EQ(format_duration(Duration(120000)), "2m");
}
