# pai_runtime: the local runtime (server::Runtime over sandboxes and the egress edge).
add_library(pai_runtime local.cc)
target_link_libraries(pai_runtime
  PUBLIC pai_sandbox pai_egress Boost::json absl::status absl::statusor absl::time
  PRIVATE pai_common pai_resource absl::strings pai_warnings)
