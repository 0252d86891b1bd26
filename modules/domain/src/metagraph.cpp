#include "bettensor/domain/metagraph.hpp"

#include <fstream>
#include <sstream>

#include <boost/json/serialize.hpp>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/json.hpp"

namespace bettensor::domain {

namespace {
std::optional<std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

protocol::error file_error(const std::filesystem::path& file, std::string_view what) {
  return protocol::invalid_format(file.string() + ": " + std::string(what));
}
}  // namespace

protocol::result<std::shared_ptr<const metagraph>> metagraph::load(
    const std::filesystem::path& file) {
  const auto text = read_file(file);
  if (!text) return file_error(file, "cannot be read");
  auto m = parse(*text);
  if (!m) return file_error(file, m.error().message);
  return m;
}

protocol::result<std::shared_ptr<const metagraph>> metagraph::parse(std::string_view text) {
  auto doc = protocol::parse_json(text);
  if (!doc) return doc.error();
  const auto* o = doc->if_object();
  const auto* list = o ? o->if_contains("neurons") : nullptr;
  if (list == nullptr || !list->is_array())
    return protocol::invalid_format("expected {\"neurons\": [...]}");
  auto m = std::make_shared<metagraph>();
  if (const auto* n = o->if_contains("netuid"); n && n->is_int64()) m->netuid_ = n->get_int64();
  if (const auto* b = o->if_contains("block"); b && b->is_int64()) m->block_ = b->get_int64();
  for (std::size_t i = 0; i < list->get_array().size(); ++i) {
    const auto* item = list->get_array()[i].if_object();
    const std::string where = "neurons[" + std::to_string(i) + "]";
    if (item == nullptr) return protocol::invalid_format(where + " must be an object");
    neuron n;
    const auto* uid = item->if_contains("uid");
    const auto* hotkey = item->if_contains("hotkey");
    if (uid == nullptr || !uid->is_int64())
      return protocol::invalid_format(where + ": uid must be an integer");
    if (hotkey == nullptr || !hotkey->is_string() || !crypto::ss58_decode(hotkey->get_string())) {
      return protocol::invalid_format(where + ": hotkey must be an SS58 address");
    }
    n.uid = uid->get_int64();
    n.hotkey = std::string(hotkey->get_string());
    if (const auto* p = item->if_contains("validator_permit"); p && p->is_bool())
      n.validator_permit = p->get_bool();
    if (const auto* s = item->if_contains("stake"); s && s->is_number())
      n.stake = s->to_number<double>();
    if (const auto* axon = item->if_contains("axon"); axon && axon->is_object()) {
      if (const auto* ip = axon->get_object().if_contains("ip"); ip && ip->is_string())
        n.ip = std::string(ip->get_string());
      if (const auto* port = axon->get_object().if_contains("port");
          port && port->is_int64() && port->get_int64() >= 0 && port->get_int64() <= 65535) {
        n.port = static_cast<std::uint16_t>(port->get_int64());
      }
    }
    m->uid_by_hotkey_[n.hotkey] = n.uid;
    m->neurons_.push_back(std::move(n));
  }
  return std::shared_ptr<const metagraph>(std::move(m));
}

std::shared_ptr<const metagraph> metagraph::make(std::int64_t netuid, std::int64_t block,
                                                 std::vector<neuron> neurons) {
  auto m = std::make_shared<metagraph>();
  m->netuid_ = netuid;
  m->block_ = block;
  for (const auto& n : neurons) m->uid_by_hotkey_[n.hotkey] = n.uid;
  m->neurons_ = std::move(neurons);
  return m;
}

std::string metagraph::to_json() const {
  boost::json::array list;
  list.reserve(neurons_.size());
  for (const auto& n : neurons_) {
    list.push_back(
        boost::json::object{{"uid", n.uid},
                            {"hotkey", n.hotkey},
                            {"validator_permit", n.validator_permit},
                            {"stake", n.stake},
                            {"axon", boost::json::object{{"ip", n.ip}, {"port", n.port}}}});
  }
  return boost::json::serialize(
      boost::json::object{{"netuid", netuid_}, {"block", block_}, {"neurons", std::move(list)}});
}

std::optional<std::int64_t> metagraph::uid_of(const std::string& hotkey) const {
  const auto it = uid_by_hotkey_.find(hotkey);
  if (it == uid_by_hotkey_.end()) return std::nullopt;
  return it->second;
}

protocol::result<std::shared_ptr<const blacklist>> blacklist::load(
    const std::filesystem::path& file) {
  const auto text = read_file(file);
  if (!text) return file_error(file, "cannot be read");
  auto b = std::make_shared<blacklist>();
  std::istringstream lines(*text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    if (!crypto::ss58_decode(line)) {
      return file_error(file, "line " + std::to_string(n) + " is not an SS58 hotkey");
    }
    b->hotkeys_.insert(line);
  }
  return std::shared_ptr<const blacklist>(std::move(b));
}

}  // namespace bettensor::domain
