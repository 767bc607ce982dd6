#include "stack/lockstep.h"

#include <fstream>
#include <sstream>

namespace nodeops::stack {
namespace fs = std::filesystem;

const char* to_string(NodeMode m) {
  switch (m) {
    case NodeMode::follow: return "follow";
    case NodeMode::paused: return "paused";
    case NodeMode::forked: return "forked";
  }
  return "?";
}

std::optional<NodeMode> parse_node_mode(const std::string& text) {
  for (auto m : {NodeMode::follow, NodeMode::paused, NodeMode::forked}) {
    if (text == to_string(m)) return m;
  }
  return std::nullopt;
}

NodeMode read_node_mode(const fs::path& control_dir, const std::string& node) {
  std::ifstream in(control_dir / node);
  std::string word;
  in >> word;
  return parse_node_mode(word).value_or(NodeMode::follow);
}

void write_node_mode(const fs::path& control_dir, const std::string& node, NodeMode mode) {
  fs::create_directories(control_dir);
  auto tmp = control_dir / (node + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << to_string(mode) << "\n";
  }
  fs::rename(tmp, control_dir / node);
}

const char* to_string(SyncOutcome::Kind k) {
  switch (k) {
    case SyncOutcome::Kind::unreachable: return "unreachable";
    case SyncOutcome::Kind::paused: return "paused";
    case SyncOutcome::Kind::in_sync: return "in_sync";
    case SyncOutcome::Kind::mined: return "mined";
    case SyncOutcome::Kind::caught_up: return "caught_up";
    case SyncOutcome::Kind::not_on_chain: return "not_on_chain";
    case SyncOutcome::Kind::failed: return "failed";
  }
  return "?";
}

SyncOutcome LockstepFollower::sync(uint64_t target) {
  SyncOutcome out;
  NodeMode mode = mode_of_(name_);
  if (mode == NodeMode::paused) {
    out.kind = SyncOutcome::Kind::paused;
    return out;
  }
  auto head = node_.head();
  if (!head) {
    out.kind = SyncOutcome::Kind::unreachable;
    return out;
  }
  out.head_before = out.head_after = *head;
  if (*head >= target) return out;  // in_sync
  if (mode == NodeMode::forked) {
    uint64_t h = *head;
    // One second later than the pool: same height, other hashes.
    out.kind = mine_to(target, h, 1) ? SyncOutcome::Kind::mined : SyncOutcome::Kind::failed;
    out.head_after = h;
    return out;
  }
  return follow(target, *head);
}

bool LockstepFollower::mine_to(uint64_t target, uint64_t& head, uint64_t extra_seconds) {
  while (head < target) {
    if (!node_.mine(schedule_.timestamp_of(head + 1) + extra_seconds)) return false;
    ++head;
  }
  return true;
}

SyncOutcome LockstepFollower::follow(uint64_t target, uint64_t head) {
  SyncOutcome out;
  out.head_before = head;
  auto finish = [&](SyncOutcome::Kind kind) {
    out.kind = kind;
    out.head_after = head;
    return out;
  };
  // A node one block behind (every node, each tick) mines the due block itself, from its own
  // mempool, like every other node of the pool at the same moment. No peer is asked, so a frozen
  // peer never slows the others down.
  // A node further behind copies what a following peer already holds, from the one furthest ahead
  // (a paused peer is behind, a forked one on a chain of its own).
  Peer* source = nullptr;
  uint64_t source_head = head;
  for (auto& p : peers_) {
    if (head + 1 >= target) break;
    if (mode_of_(p.name) != NodeMode::follow) continue;
    auto h = p.rpc->head();
    if (h && *h > source_head) {
      source = &p;
      source_head = *h;
    }
  }
  if (source) {
    out.peer = source->name;
    auto mine = node_.block_hash(head);
    auto theirs = source->rpc->block_hash(head);
    if (!mine || !theirs) return finish(SyncOutcome::Kind::failed);
    if (*mine != *theirs) {
      // Someone mined this node by hand (or it was forked and not restarted): replaying on top of
      // another chain would only build a third one. It goes on at the pool's timestamps.
      return finish(mine_to(target, head, 0) ? SyncOutcome::Kind::not_on_chain : SyncOutcome::Kind::failed);
    }
    // Its mempool may hold transactions of later blocks (the broadcast reached it while it was
    // paused): evm_mine takes the whole pool, so empty it and send each block's own.
    if (!node_.drop_pending_transactions()) return finish(SyncOutcome::Kind::failed);
    std::vector<std::string> pending;
    // The peer may mine while we copy: go on until its head holds still around its mempool read,
    // so what it has not mined yet is exactly what this node gets into its mempool.
    for (int round = 0; round < 5; ++round) {
      while (head < std::min(source_head, target)) {
        auto b = source->rpc->block(head + 1);
        if (!b) return finish(SyncOutcome::Kind::failed);
        bool sent = true;
        for (const auto& raw : b->raw_transactions) sent = node_.send_raw_transaction(raw) && sent;
        if (!sent || !node_.mine(b->timestamp)) return finish(SyncOutcome::Kind::failed);
        ++head;
        ++out.replayed;
      }
      auto p = source->rpc->pending_transactions();
      auto h = source->rpc->head();
      if (!p || !h) return finish(SyncOutcome::Kind::failed);
      pending = std::move(*p);
      if (*h == source_head) break;
      source_head = *h;
    }
    for (const auto& raw : pending) node_.send_raw_transaction(raw);
  }
  bool ok = mine_to(target, head, 0);
  return finish(!ok ? SyncOutcome::Kind::failed : out.replayed ? SyncOutcome::Kind::caught_up : SyncOutcome::Kind::mined);
}

}  // namespace nodeops::stack
