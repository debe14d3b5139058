# pai_egress: the egress edge (egress.h): gateway forwarding and the HTTP/HTTPS egress proxy.
# egress.cc is the runtime's only Asio/Beast TU (Asio/Beast themselves compile once, in
# pai_beast); the policy decisions (egress_policy.cc) need neither.
# pai_netpolicy: the decisions alone (addresses, CIDRs, allow-lists), also used by pai-server
# for webhook allowCIDRs.
add_library(pai_netpolicy egress_policy.cc)
target_link_libraries(pai_netpolicy PUBLIC absl::status absl::statusor
  PRIVATE absl::strings pai_warnings)
add_library(pai_egress egress.cc)
target_link_libraries(pai_egress
  PUBLIC pai_beast pai_netpolicy pai_common absl::status absl::statusor
  PRIVATE absl::strings absl::time pai_warnings)
