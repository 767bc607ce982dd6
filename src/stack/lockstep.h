// Lockstep mining: the anvil nodes of one chain are replicas of one chain, not independent chains
// with the same id. They start from one genesis (`--timestamp`, `--no-mining`) and every block is
// mined on every node with the same timestamp, so they hold identical blocks and hashes as long as
// they hold the same transactions (the gateway broadcasts raw transactions to every upstream).
//
//   BlockSchedule s{.genesis_timestamp = 1700000000, .block_time_seconds = 2};
//   s.timestamp_of(3);            // 1700000006: block 3 has this timestamp on every node, always
//   s.height_at(1700000007);      // 3: the height the pool should be at by then
//
//   LockstepFollower f("eth-b", s, node, peers, mode_of);
//   f.sync(s.height_at(now));     // mines, catches up or leaves the node alone, by its NodeMode
//
// A block's timestamp is a function of its height only, so a node that fell behind or restarted
// (anvil keeps its chain in memory: a restarted node is back at genesis) is brought to the pool's
// height by replaying the pool's blocks — each block's raw transactions sent to it, then evm_mine
// with that block's timestamp — which rebuilds the same blocks, hashes included. That is what a
// sync from peers does on a real chain. Everything here talks to nodes through NodeRpc (the seam
// the unit tests fake); AnvilRpc (anvil_rpc.h) is the real one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nodeops::stack {

/// @brief When each block of a pool is due and which timestamp it carries.
struct BlockSchedule {
  uint64_t genesis_timestamp = 0;  // unix seconds; anvil --timestamp
  uint32_t block_time_seconds = 1;

  uint64_t timestamp_of(uint64_t height) const { return genesis_timestamp + height * block_time_seconds; }
  /// The height whose timestamp is the last one not after `unix_seconds` (0 before genesis).
  uint64_t height_at(uint64_t unix_seconds) const {
    return unix_seconds <= genesis_timestamp ? 0 : (unix_seconds - genesis_timestamp) / block_time_seconds;
  }
};

/// @brief What the stack does with one node, set at run time with `nodeops node pause|fork|resume`.
enum class NodeMode {
  /// Mined in lockstep with its pool; caught up by replay when it is behind. The default.
  follow,
  /// Not mined: the node keeps answering but its head stops, so it lags (like a node whose sync is
  /// stuck). Resumed, it is caught up by replay and rejoins the pool.
  paused,
  /// Mined at the pool's heights with other timestamps: same height, other block hashes — a node on
  /// a fork. Resumed, it is restarted (anvil cannot unwind its own blocks faithfully: anvil_rollback
  /// leaves base fee and state root off) and replayed from genesis.
  forked,
};
const char* to_string(NodeMode m);
std::optional<NodeMode> parse_node_mode(const std::string& text);

/// The mode files: `<control_dir>/<node>` holds one word (follow, paused, forked). A missing or
/// unreadable file means follow. Written by `nodeops node`, read by the miner on every tick.
NodeMode read_node_mode(const std::filesystem::path& control_dir, const std::string& node);
/// Replaces the file atomically (write, then rename), so a reader never sees half a word.
void write_node_mode(const std::filesystem::path& control_dir, const std::string& node, NodeMode mode);

/// A block as a replay needs it: its timestamp, base fee and transactions, signed, in block order.
struct ReplayBlock {
  std::string hash;
  uint64_t timestamp = 0;
  std::string base_fee;                       // hex quantity; empty before London
  std::vector<std::string> raw_transactions;  // 0x-prefixed RLP, as eth_sendRawTransaction takes them
};

/// @brief The JSON-RPC calls the miner makes on one node. Each call is blocking with its own
/// deadline; nullopt / false means the node did not answer or refused. Not thread-safe: one
/// follower thread owns its instances.
class NodeRpc {
 public:
  virtual ~NodeRpc() = default;
  virtual std::optional<uint64_t> head() = 0;                                  // eth_blockNumber
  virtual std::optional<std::string> block_hash(uint64_t height) = 0;          // eth_getBlockByNumber
  virtual std::optional<ReplayBlock> block(uint64_t height) = 0;               // + eth_getRawTransactionByHash
  virtual std::optional<std::vector<std::string>> pending_transactions() = 0;  // raw, from txpool_content
  virtual bool send_raw_transaction(const std::string& raw) = 0;               // "already known" counts as sent
  virtual bool drop_pending_transactions() = 0;                                // anvil_dropAllTransactions
  /// anvil_rollback: removes the last `depth` blocks. anvil does not roll its base fee back, so a
  /// replay after it sets each block's base fee (set_next_base_fee) to rebuild the same blocks.
  virtual bool rollback(uint64_t depth) = 0;
  virtual bool set_next_base_fee(const std::string& base_fee) = 0;  // anvil_setNextBlockBaseFeePerGas
  virtual bool mine(uint64_t timestamp) = 0;                        // evm_mine [timestamp]
};

/// What one sync() did, for the logs and the tests.
struct SyncOutcome {
  enum class Kind {
    unreachable,   // the node did not answer (down, frozen, restarting)
    paused,        // left alone on purpose
    in_sync,       // already at the target height, on the pool's chain
    mined,         // mined the due block(s) itself (from its own mempool)
    caught_up,     // replayed blocks from a peer, then mined the due ones
    reorged,       // its last blocks differed from the pool's: rolled back and replayed
    not_on_chain,  // it differs from the pool deeper than kMaxReorgDepth: left on its own chain
    foreign,       // its genesis is not this stack's (another program holds the port): never touched
    failed,        // a call failed half-way; the next tick goes on from where it stopped
  };
  Kind kind = Kind::in_sync;
  uint64_t head_before = 0, head_after = 0;
  uint64_t replayed = 0;     // blocks copied from the peer
  uint64_t rolled_back = 0;  // blocks of its own it dropped
  std::string peer;          // the peer replayed from
};
const char* to_string(SyncOutcome::Kind k);

/// @brief Keeps one node of a pool at the pool's height and on the pool's chain, the way its mode
/// asks. Lives on one follower thread (LockstepMiner starts one per node); peers are only read.
///
/// Which chain is the pool's: every node ranks the following peers by (head, then position in the
/// stack file) and converges to the best-ranked one when it differs from it. The node that ranks
/// first never moves, so the pool agrees after one tick. Divergence has two causes: a transaction
/// whose broadcast reached the nodes on both sides of a block's mining (one node has it in block k,
/// another in k+1), and a node mined by hand. Both are repaired the way a real node handles a
/// reorg: back to the common ancestor, then the canonical blocks.
class LockstepFollower {
 public:
  struct Peer {
    std::string name;
    NodeRpc* rpc;
    size_t position;  // in the stack file: ties between equal heads go to the first
  };
  using ModeOf = std::function<NodeMode(const std::string& node)>;
  /// Deeper divergence than this is not repaired (the node is left alone and reported).
  static constexpr uint64_t kMaxReorgDepth = 64;

  LockstepFollower(
      std::string name, size_t position, BlockSchedule schedule, NodeRpc& node, std::vector<Peer> peers, ModeOf mode_of,
      std::function<bool()> stopping = [] { return false; })
      : name_(std::move(name)),
        position_(position),
        schedule_(schedule),
        node_(node),
        peers_(std::move(peers)),
        mode_of_(std::move(mode_of)),
        stopping_(std::move(stopping)) {}

  /// Brings the node to `target` (the pool's height now: schedule.height_at(now)):
  /// - follow: a node one block behind mines the due block itself with the schedule's timestamp —
  ///   every node of the pool does the same at the same moment with the same transactions; a node
  ///   further behind replays what the best-ranked peer already holds (its pending transactions are
  ///   copied after, so it goes on mining what the pool mines). Then, at its head, it checks its
  ///   block against the best-ranked peer's and reorgs onto it when they differ.
  /// - paused: nothing; forked: mined to `target` at timestamp_of(h) + 1, a chain of its own.
  SyncOutcome sync(uint64_t target);

  const std::string& name() const { return name_; }

 private:
  struct Reference {
    Peer* peer = nullptr;
    uint64_t head = 0;
  };
  /// The best-ranked following peer that outranks this node at `head`; none when this node ranks first.
  Reference reference(uint64_t head);
  /// Copies blocks head+1 .. min(ref head, target) from the reference, then its pending
  /// transactions; `own` (the transactions of its blocks that lost) and its own pending ones are
  /// sent again to it and to every following peer.
  bool replay(Reference& ref, uint64_t target, uint64_t& head, std::vector<std::string> own, SyncOutcome& out);
  bool mine_to(uint64_t target, uint64_t& head, uint64_t extra_seconds);
  /// Whether the node started from this stack's genesis: a port held by another program (another
  /// stack's anvil) must never be mined, rolled back or copied from.
  bool ours(NodeRpc& rpc) const;

  std::string name_;
  size_t position_;
  BlockSchedule schedule_;
  NodeRpc& node_;
  std::vector<Peer> peers_;
  ModeOf mode_of_;
  std::function<bool()> stopping_;  // checked between replayed blocks: a long replay must not hold up a stop
};

}  // namespace nodeops::stack
