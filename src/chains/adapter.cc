#include "chains/adapter.h"

#include "chains/beacon.h"
#include "chains/evm.h"
#include "chains/heimdall.h"
#include "chains/solana.h"

namespace nodeops::chains {

std::unique_ptr<Adapter> make_adapter(std::string_view type, std::string_view url, std::string_view extra_url) {
  if (type == "evm") return evm::make_evm_adapter(url);
  if (type == "beacon") return make_beacon_adapter(url);
  if (type == "heimdall") return make_heimdall_adapter(url, extra_url);
  if (type == "solana") return make_solana_adapter(url);
  return nullptr;
}

}  // namespace nodeops::chains
