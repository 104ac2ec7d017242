# find_package(GatewaySDK) for plugin authors.
#
# Provides the target gateway::plugin_api (the plugin API headers and what they need) and the function
# gateway_add_plugin() (see GatewayPlugin.cmake). Point GatewaySDK_DIR at this directory: sdk/cmake in
# a source tree, or <prefix>/lib/cmake/GatewaySDK when installed.
include(CMakeFindDependencyMacro)
find_dependency(Boost 1.74)
find_dependency(Threads)

if(NOT TARGET gateway::plugin_api)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/../../plugin-api/include/gateway/plugin_api.hpp)
    set(_gateway_include ${CMAKE_CURRENT_LIST_DIR}/../../plugin-api/include)
  else()
    set(_gateway_include ${CMAKE_CURRENT_LIST_DIR}/../../../include)
  endif()
  get_filename_component(_gateway_include ${_gateway_include} ABSOLUTE)
  add_library(gateway::plugin_api INTERFACE IMPORTED)
  target_include_directories(gateway::plugin_api INTERFACE ${_gateway_include})
  target_link_libraries(gateway::plugin_api INTERFACE Boost::headers Threads::Threads)
  target_compile_features(gateway::plugin_api INTERFACE cxx_std_20)
  # GCC 12 + Boost 1.74: boost/asio/awaitable.hpp uses std::exchange without including <utility>.
  target_compile_options(gateway::plugin_api INTERFACE -include utility)
  target_compile_definitions(gateway::plugin_api INTERFACE BOOST_ASIO_NO_DEPRECATED)
  set(GATEWAY_PLUGIN_API_HEADER ${_gateway_include}/gateway/plugin/abi.hpp)
endif()

include(${CMAKE_CURRENT_LIST_DIR}/GatewayPlugin.cmake)
