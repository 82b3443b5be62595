// Region's move operations, one for every OS layer: each member is taken over and left empty in the source, so the
// source's destructor (the OS layer's Reset) releases nothing the target now owns.
#include <utility>

#include "channel/os.h"

namespace mapioffline {
namespace channel {

Region::~Region() { Reset(); }

Region::Region(Region &&other) noexcept { *this = std::move(other); }

Region &Region::operator=(Region &&other) noexcept {
  if (this != &other) {
    Reset();
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    name_ = std::move(other.name_);
    handle_ = std::exchange(other.handle_, -1);
    directory_ = std::exchange(other.directory_, -1);
#if defined(_WIN32)
    for (int i = 0; i < kAuxCount; ++i) aux_[i] = std::exchange(other.aux_[i], 0);
#endif
    for (int i = 0; i < 2; ++i) identity_[i] = std::exchange(other.identity_[i], 0);
  }
  return *this;
}

}  // namespace channel
}  // namespace mapioffline
