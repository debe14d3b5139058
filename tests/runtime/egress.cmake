# egress_test: the egress edge over real sockets (unix listeners, TCP test servers on
# 127.0.0.1:0) and the policy unit tests.
add_executable(egress_test egress_test.cc ${CMAKE_SOURCE_DIR}/tests/main_test.cc)
target_link_libraries(egress_test PRIVATE Catch2::Catch2 pai_egress pai_warnings)
catch_discover_tests(egress_test TEST_PREFIX "egress_test: " EXTRA_ARGS -w NoTests)
