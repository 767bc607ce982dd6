// Reading recorded replies from tests/fixtures (NODEOPS_FIXTURES points there under ctest).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chains/adapter.h"

namespace nodeops::testing {

inline std::string fixture_path(const std::string& rel) {
  const char* root = std::getenv("NODEOPS_FIXTURES");
  return std::string(root != nullptr ? root : "tests/fixtures") + "/" + rel;
}

/// The file's bytes; fails the test (ADD_FAILURE by the caller) when it is missing.
inline std::string read_fixture(const std::string& rel) {
  std::ifstream in(fixture_path(rel), std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + fixture_path(rel));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline chains::HttpReply ok_reply(std::string body, int status = 200) {
  return chains::HttpReply{true, status, std::move(body), ""};
}

inline chains::HttpReply transport_error(std::string why) {
  return chains::HttpReply{false, 0, "", std::move(why)};
}

/// Replies for a scenario folder, one file per call in probe order.
inline std::vector<chains::HttpReply> scenario(const std::string& dir,
                                               const std::vector<std::string>& files) {
  std::vector<chains::HttpReply> out;
  for (const auto& f : files) out.push_back(ok_reply(read_fixture(dir + "/" + f)));
  return out;
}

/// Every garbage body we know, for "never crash" tests.
inline std::vector<chains::HttpReply> garbage_bodies() {
  return {ok_reply(read_fixture("garbage/html_502.html")),
          ok_reply(read_fixture("garbage/truncated.json")),
          ok_reply(read_fixture("garbage/wrong_types.json")),
          ok_reply(""),
          ok_reply("null"),
          ok_reply("[]"),
          ok_reply("{\"data\":null,\"result\":null}"),
          ok_reply("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xffffffffffffffffffffffffffff\"}"),
          ok_reply("\x00\xff\xfe garbage", 500),
          transport_error("connection refused")};
}

}  // namespace nodeops::testing
