// CUDA memory statistics of libtorch's caching allocator, which tch does
// not bind (for `arlab bench` on CUDA). Used by src/device.rs; compiled by
// build.rs. Only c10 headers: no CUDA toolkit is needed to build it.
#include <c10/core/CachingDeviceAllocator.h>
#include <cstdint>

extern "C" {
// Peak bytes allocated on CUDA device `index` since the last reset, or -1
// where there is no CUDA allocator (a CPU-only machine) or it fails.
int64_t arlab_cuda_peak_allocated(int8_t index) {
  try {
    auto stats = c10::getDeviceAllocator(c10::DeviceType::CUDA)->getDeviceStats(index);
    auto aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    return stats.allocated_bytes[aggregate].peak;
  } catch (...) {
    return -1;
  }
}

// Starts a new peak on CUDA device `index`; false where that fails.
bool arlab_cuda_reset_peak(int8_t index) {
  try {
    c10::getDeviceAllocator(c10::DeviceType::CUDA)->resetPeakStats(index);
    return true;
  } catch (...) {
    return false;
  }
}
}
