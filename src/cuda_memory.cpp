// CUDA memory statistics of libtorch's caching allocator, which tch does
// not bind (for `arlab bench` on CUDA, and the memory check before a model
// is built). Used by src/device.rs; compiled by
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

// Free and total bytes of CUDA device `index` (cudaMemGetInfo through the
// allocator); false where there is no CUDA allocator or it fails.
bool arlab_cuda_memory_info(int8_t index, int64_t* free_bytes, int64_t* total_bytes) {
  try {
    auto info = c10::getDeviceAllocator(c10::DeviceType::CUDA)->getMemoryInfo(index);
    *free_bytes = static_cast<int64_t>(info.first);
    *total_bytes = static_cast<int64_t>(info.second);
    return true;
  } catch (...) {
    return false;
  }
}
}
