// Every fuzz target (tests/fuzz/*_fuzz.cpp) over its committed corpus (tests/fuzz/corpus/<target>/:
// seeds and what scripts/fuzz.sh found), then over seeded mutations of it, so that the properties the
// targets check hold in every build, under the sanitizers too, and what fuzzing found stays fixed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.hpp"

namespace {

namespace fs = std::filesystem;
using Input = std::vector<std::uint8_t>;

const std::vector<std::string> kTargets = {"config",      "h2",  "http_exchange", "http_request", "http_response",
                                           "http_target", "jwt", "ldap",          "ldap_relay",   "manifest",
                                           "socks5",      "tunnel_request"};

std::vector<Input> corpus_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(GW_FUZZ_CORPUS_DIR) / target)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Input> inputs;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

// Bytes that parsers of text protocols treat specially.
const std::vector<std::string> kTokens = {
    "\r\n", "\n", "\r", std::string(1, '\0'), "%", "%2e", "..", "/", ":", " ", "\t", "0", "-1", "\xff", "{",
    "}",    "[",  "\""};

Input mutate(const Input& input, const std::vector<Input>& corpus, std::mt19937& random) {
  Input out = input;
  auto pick = [&random](std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound)(random);
  };
  const int edits = 1 + static_cast<int>(pick(3));
  for (int i = 0; i < edits; ++i) {
    const std::size_t at = pick(out.size());
    switch (pick(5)) {
      case 0:  // change a byte
        if (at < out.size()) out[at] = static_cast<std::uint8_t>(pick(255));
        break;
      case 1:  // insert a token
      {
        const std::string& token = kTokens[pick(kTokens.size() - 1)];
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), token.begin(), token.end());
        break;
      }
      case 2:  // delete a range
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(at),
                  out.begin() + static_cast<std::ptrdiff_t>(std::min(out.size(), at + 1 + pick(16))));
        break;
      case 3:  // repeat a range
      {
        const std::size_t end = std::min(out.size(), at + 1 + pick(32));
        const Input range(out.begin() + static_cast<std::ptrdiff_t>(at),
                          out.begin() + static_cast<std::ptrdiff_t>(end));
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(end), range.begin(), range.end());
        break;
      }
      case 4:  // splice in part of another input
      {
        const Input& other = corpus[pick(corpus.size() - 1)];
        const std::size_t from = pick(other.size());
        const std::size_t to = std::min(other.size(), from + pick(64));
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at),
                   other.begin() + static_cast<std::ptrdiff_t>(from),
                   other.begin() + static_cast<std::ptrdiff_t>(to));
        break;
      }
      default:  // cut the end
        out.resize(at);
        break;
    }
  }
  return out;
}

constexpr std::size_t kMutations = 4000;

// With GW_FUZZ_SAVE=FILE set, each input is written to FILE before it runs: after a crash, FILE holds
// the input that caused it (run it again with the fuzz target's executable, or add it to the corpus).
void run_one(gw::fuzz::Target target, const Input& input) {
  if (const char* save = std::getenv("GW_FUZZ_SAVE")) {
    std::ofstream(save, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
  }
  target(input.data(), input.size());
}

void replay(const std::string& name) {
  const auto found = gw::fuzz::targets().find(name);
  ASSERT_NE(found, gw::fuzz::targets().end()) << "no fuzz target named " << name;
  const std::vector<Input> corpus = corpus_of(name);
  ASSERT_FALSE(corpus.empty()) << "no corpus in tests/fuzz/corpus/" << name;
  for (const Input& input : corpus) run_one(found->second, input);
  std::mt19937 random(static_cast<std::uint32_t>(std::hash<std::string>{}(name)));
  for (std::size_t i = 0; i < kMutations; ++i)
    run_one(found->second, mutate(corpus[i % corpus.size()], corpus, random));
}

TEST(FuzzReplay, EveryTargetIsReplayed) {
  std::vector<std::string> registered;
  for (const auto& [name, target] : gw::fuzz::targets()) registered.push_back(name);
  EXPECT_EQ(registered, kTargets);
}

TEST(FuzzReplay, Config) {
  replay("config");
}
TEST(FuzzReplay, H2) {
  replay("h2");
}
TEST(FuzzReplay, HttpExchange) {
  replay("http_exchange");
}
TEST(FuzzReplay, HttpRequest) {
  replay("http_request");
}
TEST(FuzzReplay, HttpResponse) {
  replay("http_response");
}
TEST(FuzzReplay, HttpTarget) {
  replay("http_target");
}
TEST(FuzzReplay, Jwt) {
  replay("jwt");
}
TEST(FuzzReplay, Ldap) {
  replay("ldap");
}
TEST(FuzzReplay, LdapRelay) {
  replay("ldap_relay");
}
TEST(FuzzReplay, Manifest) {
  replay("manifest");
}
TEST(FuzzReplay, Socks5) {
  replay("socks5");
}
TEST(FuzzReplay, TunnelRequest) {
  replay("tunnel_request");
}

}  // namespace
