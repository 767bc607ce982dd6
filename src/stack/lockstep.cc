#include "stack/lockstep.h"

#include <fstream>
#include <sstream>

namespace nodeops::stack {
namespace fs = std::filesystem;

const char* to_string(NodeMode m) {
  switch (m) {
    case NodeMode::follow:
      return "follow";
    case NodeMode::paused:
      return "paused";
    case NodeMode::forked:
      return "forked";
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
    case SyncOutcome::Kind::unreachable:
      return "unreachable";
    case SyncOutcome::Kind::paused:
      return "paused";
    case SyncOutcome::Kind::in_sync:
      return "in_sync";
    case SyncOutcome::Kind::mined:
      return "mined";
    case SyncOutcome::Kind::caught_up:
      return "caught_up";
    case SyncOutcome::Kind::reorged:
      return "reorged";
    case SyncOutcome::Kind::not_on_chain:
      return "not_on_chain";
    case SyncOutcome::Kind::foreign:
      return "foreign";
    case SyncOutcome::Kind::failed:
      return "failed";
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
  if (!ours(node_)) {
    out.kind = SyncOutcome::Kind::foreign;
    return out;
  }
  if (mode == NodeMode::forked) {
    uint64_t h = *head;
    // One second later than the pool: same height, other hashes.
    if (h < target) out.kind = mine_to(target, h, 1) ? SyncOutcome::Kind::mined : SyncOutcome::Kind::failed;
    out.head_after = h;
    return out;
  }

  uint64_t h = *head;
  auto finish = [&](SyncOutcome::Kind kind) {
    out.kind = kind;
    out.head_after = h;
    return out;
  };
  // The due block first, from the node's own mempool, before any peer is asked: every node of the
  // pool mines it at the same moment, and a frozen peer delays no one's block.
  bool mined = false;
  if (h + 1 == target) {
    if (!mine_to(target, h, 0)) return finish(SyncOutcome::Kind::failed);
    mined = true;
  }
  auto ref = reference(h);
  if (!ref.peer) {
    if (h < target && !mine_to(target, h, 0)) return finish(SyncOutcome::Kind::failed);
    return finish(mined || h > out.head_before ? SyncOutcome::Kind::mined : SyncOutcome::Kind::in_sync);
  }
  out.peer = ref.peer->name;
  // The common ancestor: the highest block both hold that is the same on both.
  uint64_t ancestor = std::min(h, ref.head);
  for (;;) {
    auto mine = node_.block_hash(ancestor);
    auto theirs = ref.peer->rpc->block_hash(ancestor);
    if (!mine || !theirs) return finish(SyncOutcome::Kind::failed);
    if (*mine == *theirs) break;
    if (ancestor == 0 || std::min(h, ref.head) - ancestor >= kMaxReorgDepth) {
      if (h < target && !mine_to(target, h, 0)) return finish(SyncOutcome::Kind::failed);
      return finish(SyncOutcome::Kind::not_on_chain);
    }
    --ancestor;
  }
  std::vector<std::string> orphaned;  // the transactions of its blocks that lose
  if (ancestor < h) {
    for (uint64_t k = ancestor + 1; k <= h; ++k) {
      auto b = node_.block(k);
      if (!b) return finish(SyncOutcome::Kind::failed);
      orphaned.insert(orphaned.end(), b->raw_transactions.begin(), b->raw_transactions.end());
    }
    // anvil drops the rolled-back blocks' transactions: they are sent again after the replay.
    if (!node_.rollback(h - ancestor)) return finish(SyncOutcome::Kind::failed);
    out.rolled_back = h - ancestor;
    h = ancestor;
  }
  if (ref.head > h && !replay(ref, target, h, orphaned, out)) return finish(SyncOutcome::Kind::failed);
  if (h < target && !mine_to(target, h, 0)) return finish(SyncOutcome::Kind::failed);
  if (out.rolled_back) return finish(SyncOutcome::Kind::reorged);
  if (out.replayed) return finish(SyncOutcome::Kind::caught_up);
  return finish(mined || h > out.head_before ? SyncOutcome::Kind::mined : SyncOutcome::Kind::in_sync);
}

LockstepFollower::Reference LockstepFollower::reference(uint64_t head) {
  Reference best;
  for (auto& p : peers_) {
    if (mode_of_(p.name) != NodeMode::follow) continue;  // a paused peer is behind, a forked one elsewhere
    auto h = p.rpc->head();
    if (!h || !ours(*p.rpc)) continue;
    if (!best.peer || *h > best.head || (*h == best.head && p.position < best.peer->position)) best = {&p, *h};
  }
  bool outranks = best.peer && (best.head > head || (best.head == head && best.peer->position < position_));
  return outranks ? best : Reference{};
}

bool LockstepFollower::replay(Reference& ref, uint64_t target, uint64_t& head, std::vector<std::string> own,
                              SyncOutcome& out) {
  // Its mempool may hold transactions of later blocks (the broadcast reached it while it was
  // paused): evm_mine takes the whole pool, so empty it and send each block's own. What it held
  // that the pool lacks — a transaction only this node got, or one of its blocks that lost — goes
  // to every node after, as a real node puts reorged-out transactions back into its pool and
  // gossips them.
  auto pending_here = node_.pending_transactions();
  if (!pending_here) return false;
  own.insert(own.end(), pending_here->begin(), pending_here->end());
  // Mostly mined by now ("nonce too low") or known ("already known"): both are fine. Also when the
  // replay fails half-way: what this node held must not be lost with it.
  auto regossip = [&] {
    for (const auto& raw : own) {
      node_.send_raw_transaction(raw);
      for (auto& p : peers_) {
        if (mode_of_(p.name) == NodeMode::follow) p.rpc->send_raw_transaction(raw);
      }
    }
  };
  struct OnExit {
    std::function<void()> f;
    ~OnExit() { f(); }
  } on_exit{regossip};
  if (!node_.drop_pending_transactions()) return false;
  std::vector<std::string> pending;
  // The peer may mine while we copy: go on until its head holds still around its mempool read,
  // so what it has not mined yet is exactly what this node gets into its mempool.
  for (int round = 0; round < 5; ++round) {
    while (head < std::min(ref.head, target)) {
      if (stopping_()) return false;
      auto b = ref.peer->rpc->block(head + 1);
      if (!b) return false;
      bool sent = true;
      for (const auto& raw : b->raw_transactions) sent = node_.send_raw_transaction(raw) && sent;
      if (!sent) return false;
      if (!b->base_fee.empty() && !node_.set_next_base_fee(b->base_fee)) return false;
      if (!node_.mine(b->timestamp)) return false;
      ++head;
      ++out.replayed;
    }
    auto p = ref.peer->rpc->pending_transactions();
    auto h = ref.peer->rpc->head();
    if (!p || !h) return false;
    pending = std::move(*p);
    if (*h == ref.head) break;
    ref.head = *h;
  }
  for (const auto& raw : pending) node_.send_raw_transaction(raw);
  return true;  // on_exit sends `own` again
}

bool LockstepFollower::ours(NodeRpc& rpc) const {
  auto genesis = rpc.block(0);
  return genesis && genesis->timestamp == schedule_.genesis_timestamp;
}

bool LockstepFollower::mine_to(uint64_t target, uint64_t& head, uint64_t extra_seconds) {
  while (head < target) {
    if (!node_.mine(schedule_.timestamp_of(head + 1) + extra_seconds)) return false;
    ++head;
  }
  return true;
}

}  // namespace nodeops::stack
