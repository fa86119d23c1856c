// Autocast per device type with a chosen dtype, which tch 0.26 does not
// bind (torch-sys has only the deprecated CUDA-only switch at float16).
// Used by src/autocast.rs; compiled by build.rs.
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <cstdint>

// Declared as in ATen/autocast_mode.h, which is not included because it
// pulls in all of ATen (a minute of compiling); a mismatch fails to link.
namespace at::autocast {
bool is_autocast_enabled(c10::DeviceType device_type);
void set_autocast_enabled(c10::DeviceType device_type, bool enabled);
c10::ScalarType get_autocast_dtype(c10::DeviceType device_type);
void set_autocast_dtype(c10::DeviceType device_type, c10::ScalarType dtype);
}  // namespace at::autocast

static c10::DeviceType device_type(bool cuda) {
  return cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
}

extern "C" {
bool arlab_autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(device_type(cuda));
}

int8_t arlab_autocast_dtype(bool cuda) {
  return static_cast<int8_t>(at::autocast::get_autocast_dtype(device_type(cuda)));
}

void arlab_autocast_set(bool cuda, bool enabled, int8_t dtype) {
  at::autocast::set_autocast_dtype(device_type(cuda), static_cast<c10::ScalarType>(dtype));
  at::autocast::set_autocast_enabled(device_type(cuda), enabled);
}

int8_t arlab_bfloat16() { return static_cast<int8_t>(c10::ScalarType::BFloat16); }
}
