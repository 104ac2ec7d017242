// A fresh directory per test (mkdtemp), removed with everything in it when the object goes away.
#pragma once

#include <filesystem>
#include <string_view>

namespace gw::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name (creating directories in `name`) and returns the full path.
  std::filesystem::path write(std::string_view name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

// The whole content of a file, or "" if it does not exist.
std::string read_file(const std::filesystem::path& file);

}  // namespace gw::testing

namespace gw::e2e {
using testing::read_file;
using testing::TempDir;
}  // namespace gw::e2e
