# Warnings for every NodeOps target; -Werror unless NODEOPS_WERROR=OFF.
function(nodeops_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(NODEOPS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
