# gateway_add_plugin(): builds a gateway plugin and its manifest.
#
#   gateway_add_plugin(<target>
#     NAME <plugin name>                 # [a-z][a-z0-9_-]*
#     VERSION <version>
#     DESCRIPTION <text>
#     ROUTE_TYPES <type>...
#     SOURCES <file>...
#     [SETTINGS <file>]                  # YAML mapping: the `settings:` schema of the manifest
#     [OUTPUT_DIRECTORY <dir>])          # default: GATEWAY_PLUGIN_OUTPUT_DIR or the build dir
#
# The library is a MODULE built with hidden symbol visibility (only the two entry symbols that
# GW_DECLARE_PLUGIN defines are exported) against the gateway::plugin_api target, which fixes the ABI
# tag. After every build the manifest <name>.plugin.yaml is written beside the library, pinning the
# library's SHA-256, so the loader refuses a library changed after the fact.
include_guard(GLOBAL)

set(_GATEWAY_SDK_DIR ${CMAKE_CURRENT_LIST_DIR})
if(NOT GATEWAY_PLUGIN_API_HEADER)
  get_filename_component(GATEWAY_PLUGIN_API_HEADER
    ${CMAKE_CURRENT_LIST_DIR}/../../plugin-api/include/gateway/plugin/abi.hpp ABSOLUTE)
endif()

function(gateway_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "NAME;VERSION;DESCRIPTION;SETTINGS;OUTPUT_DIRECTORY"
                        "ROUTE_TYPES;SOURCES")
  foreach(required NAME VERSION ROUTE_TYPES SOURCES)
    if(NOT arg_${required})
      message(FATAL_ERROR "gateway_add_plugin(${target}): ${required} is required")
    endif()
  endforeach()
  if(NOT arg_NAME MATCHES "^[a-z][a-z0-9_-]*$")
    message(FATAL_ERROR "gateway_add_plugin(${target}): NAME '${arg_NAME}' must match [a-z][a-z0-9_-]*")
  endif()
  foreach(type IN LISTS arg_ROUTE_TYPES)
    if(NOT type MATCHES "^[a-z][a-z0-9_-]*$")
      message(FATAL_ERROR "gateway_add_plugin(${target}): route type '${type}' must match [a-z][a-z0-9_-]*")
    endif()
  endforeach()
  set(out_dir ${arg_OUTPUT_DIRECTORY})
  if(NOT out_dir)
    if(GATEWAY_PLUGIN_OUTPUT_DIR)
      set(out_dir ${GATEWAY_PLUGIN_OUTPUT_DIR})
    else()
      set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
    endif()
  endif()

  add_library(${target} MODULE ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE gateway::plugin_api)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" OUTPUT_NAME ${target}
    LIBRARY_OUTPUT_DIRECTORY ${out_dir}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE -Wl,--no-undefined)

  set(settings_file "")
  if(arg_SETTINGS)
    get_filename_component(settings_file ${arg_SETTINGS} ABSOLUTE)
  endif()
  string(REPLACE ";" "," route_types "${arg_ROUTE_TYPES}")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND}
      -DLIBRARY=$<TARGET_FILE:${target}>
      -DMANIFEST=${out_dir}/${arg_NAME}.plugin.yaml
      -DNAME=${arg_NAME}
      -DVERSION=${arg_VERSION}
      "-DDESCRIPTION=${arg_DESCRIPTION}"
      -DROUTE_TYPES=${route_types}
      -DSETTINGS=${settings_file}
      -DPLUGIN_API_HEADER=${GATEWAY_PLUGIN_API_HEADER}
      -P ${_GATEWAY_SDK_DIR}/GatewayPluginManifest.cmake
    VERBATIM)
  if(settings_file)
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${settings_file})
  endif()
endfunction()
