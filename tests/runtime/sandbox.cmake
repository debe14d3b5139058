# sandbox_test: real bubblewrap sandboxes, real cgroups and Landlock (needs root; see
# docs/sessions.md, "The sandbox").
add_executable(sandbox_test sandbox_test.cc ${CMAKE_SOURCE_DIR}/tests/main_test.cc)
target_link_libraries(sandbox_test PRIVATE Catch2::Catch2 pai_sandbox Threads::Threads
  pai_warnings)
target_compile_definitions(sandbox_test PRIVATE
  PAI_SANDBOX_INIT="$<TARGET_FILE:pai-sandbox-init>")
add_dependencies(sandbox_test pai-sandbox-init)
catch_discover_tests(sandbox_test TEST_PREFIX "sandbox_test: " EXTRA_ARGS -w NoTests)
