# The module graph points one way. Each module library has a layer; a module may link only
# modules of lower layers (so the miner, beside the validator, cannot link it either). Checked
# when the build is configured: a link that points up or sideways stops the configure step with
# the two modules named.
#
#   layer 0  crypto, cli, boost_impl            (no module below them)
#   layer 1  protocol                           (crypto)
#   layer 2  domain, metrics                    (protocol: rules, outcome labels)
#   layer 3  storage, transport                 (domain, protocol, metrics, boost_impl)
#   layer 4  chain, console                     (transport, domain, metrics, cli)
#   layer 5  validator, miner                   (everything below)
#
# Apps, tests, benchmarks and fuzz targets are not modules: they may link anything.

# Records `module`'s layer; `module` is the name after "bettensor::".
function(bettensor_layer module layer)
  set_property(GLOBAL APPEND PROPERTY BETTENSOR_LAYERED_MODULES ${module})
  set_property(GLOBAL PROPERTY BETTENSOR_LAYER_${module} ${layer})
endfunction()

# Fails the configure step if a layered module links one of the same or a higher layer.
function(bettensor_check_layers)
  get_property(modules GLOBAL PROPERTY BETTENSOR_LAYERED_MODULES)
  foreach(module IN LISTS modules)
    get_property(layer GLOBAL PROPERTY BETTENSOR_LAYER_${module})
    if(NOT TARGET bettensor::${module})
      message(FATAL_ERROR "module graph: bettensor::${module} has a layer but no target")
    endif()
    get_target_property(target bettensor::${module} ALIASED_TARGET)
    if(NOT target)
      set(target bettensor::${module})
    endif()
    get_target_property(direct ${target} LINK_LIBRARIES)
    get_target_property(interface ${target} INTERFACE_LINK_LIBRARIES)
    foreach(dep IN LISTS direct interface)
      if(NOT dep MATCHES "^bettensor::(.+)$")
        continue()
      endif()
      set(other ${CMAKE_MATCH_1})
      get_property(other_layer GLOBAL PROPERTY BETTENSOR_LAYER_${other})
      if(other_layer STREQUAL "")
        message(FATAL_ERROR "module graph: bettensor::${module} links bettensor::${other}, "
                            "which has no layer (bettensor_layer in cmake/BettensorLayers.cmake)")
      endif()
      if(NOT other_layer LESS layer)
        message(FATAL_ERROR "module graph: bettensor::${module} (layer ${layer}) links "
                            "bettensor::${other} (layer ${other_layer}); a module may link only "
                            "modules of lower layers")
      endif()
    endforeach()
  endforeach()
endfunction()
