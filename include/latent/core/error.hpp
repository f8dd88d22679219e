#pragma once
/// @file
/// The exceptions latent throws. Every message says where (an op, a file, a parameter) and what
/// was wrong, e.g. `linear: W is 400x784 but x is 700x128`.

#include <stdexcept>
#include <string>

#include <Eigen/Core>

namespace latent::inline v0 {

/// Base of every exception latent throws; catch this to catch them all.
class Error : public std::runtime_error {
 public:
  /// `where` names the op, file or object at fault; `what` says what was wrong with it.
  Error(const std::string& where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what), where_(where) {}

  /// The op, file or object the error is about.
  [[nodiscard]] const std::string& where() const noexcept { return where_; }

 private:
  std::string where_;
};

/// Matrix shapes that do not fit together (the message gives both shapes).
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A file or stream whose content is not what its format promises (bad magic, truncated, bad CRC).
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A value became NaN or infinite, or an argument is outside its mathematical domain.
class NumericError : public Error {
 public:
  using Error::Error;
};

/// The operating system refused a read or write (missing file, full disk, no permission).
class IoError : public Error {
 public:
  using Error::Error;
};

namespace detail {

/// "ROWSxCOLS", the way every shape appears in latent's messages.
inline std::string shape_str(Eigen::Index rows, Eigen::Index cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

}  // namespace detail
}  // namespace latent::inline v0
