# pai_egress: the egress edge (egress.h): gateway forwarding and the HTTP/HTTPS egress proxy.
# egress.cc is the runtime's only Asio/Beast TU (Asio/Beast themselves compile once, in
# pai_beast); the policy decisions (egress_policy.cc) need neither.
add_library(pai_egress egress.cc egress_policy.cc)
target_link_libraries(pai_egress
  PUBLIC pai_beast pai_common absl::status absl::statusor
  PRIVATE absl::strings absl::time pai_warnings)
