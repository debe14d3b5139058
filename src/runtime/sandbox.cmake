# pai_sandbox: starting and driving sandboxes from the host (sandbox.h). pai-sandbox-init: the
# init inside every sandbox. The frame codec and Landlock are shared by both.
add_library(pai_sandbox sandbox.cc cgroups.cc landlock.cc frames.cc)
target_link_libraries(pai_sandbox
  PUBLIC absl::status absl::statusor
  PRIVATE Boost::json Threads::Threads pai_warnings)

add_executable(pai-sandbox-init sandbox_init.cc)
target_link_libraries(pai-sandbox-init PRIVATE pai_sandbox Boost::json Threads::Threads
  pai_warnings)
