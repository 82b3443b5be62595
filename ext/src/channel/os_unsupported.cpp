// The bridge channel's OS layer where there is none (macOS, BSDs): every
// operation fails with MAPI_E_NO_SUPPORT, so the rest of the channel builds everywhere.
#if !defined(__linux__) && !defined(_WIN32)
#include "channel/os.h"

namespace mapioffline {
namespace channel {

void Region::Reset() noexcept { base_ = nullptr; }
HRESULT Region::Create(const std::u16string &, uint64_t, Region *, const char **detail) noexcept {
  *detail = "the bridge channel is not available on this platform yet";
  return MAPI_E_NO_SUPPORT;
}
HRESULT Region::Open(const std::u16string &, Region *, const char **detail) noexcept {
  *detail = "the bridge channel is not available on this platform yet";
  return MAPI_E_NO_SUPPORT;
}
void Region::Unlink() noexcept {}
void Region::Announce() const noexcept {}
void Region::Wait(std::atomic<uint32_t> *, uint32_t, int64_t) const noexcept {}
int Region::Wake(std::atomic<uint32_t> *, int) const noexcept { return -1; }

uint32_t SelfPid() noexcept { return 0; }
uint64_t SelfStartTime() noexcept { return 0; }
bool ProcessAlive(uint32_t, uint64_t) noexcept { return false; }

PublisherWatch::~PublisherWatch() = default;
bool PublisherWatch::Start(uint32_t, uint64_t) noexcept { return false; }
bool PublisherWatch::WaitForDeath() noexcept { return true; }
void PublisherWatch::Cancel() noexcept {}

ChannelWatch::~ChannelWatch() = default;
void ChannelWatch::Start(const std::u16string &) {}
bool ChannelWatch::Wait(int64_t) noexcept { return true; }

}  // namespace channel
}  // namespace mapioffline
#endif
