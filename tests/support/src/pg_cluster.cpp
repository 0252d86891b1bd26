#include "bettensor/test/pg_cluster.hpp"

#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace bettensor::test {

namespace fs = std::filesystem;

namespace {

// The newest installed server: /usr/lib/postgresql/<version>/bin.
fs::path server_bin() {
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(e.path().filename().c_str());
    if (version > best_version && fs::exists(e.path() / "bin" / "initdb")) {
      best_version = version;
      best = e.path() / "bin";
    }
  }
  if (best.empty()) {
    throw std::runtime_error(
        "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): install "
        "the postgresql package");
  }
  return best;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

pg_cluster::pg_cluster(bool durable) : bin_(server_bin()), durable_(durable) {
  std::string tmpl = (fs::temp_directory_path() / "bettensor-pg-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr || ::chown(dir_.c_str(), nobody->pw_uid, nobody->pw_gid) != 0)
      throw std::runtime_error("cannot hand " + dir_.string() + " to the user nobody");
  }
  run(quoted((bin_ / "initdb").string()) + " -D " + quoted((dir_ / "data").string()) +
      " -U bettensor --auth=trust --no-sync -E UTF8 --locale=C.UTF-8");
  start();
}

pg_cluster::~pg_cluster() {
  try {
    if (running_) {
      run(quoted((bin_ / "pg_ctl").string()) + " -D " + quoted((dir_ / "data").string()) +
          " -m immediate -w stop");
    }
  } catch (const std::exception&) {  // the directory goes anyway
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string pg_cluster::run(const std::string& command, bool as_owner) const {
  std::string line = command;
  if (as_owner && ::geteuid() == 0) line = "runuser -u nobody -- " + line;
  line += " 2>&1";
  std::string out;
  FILE* p = ::popen(line.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run " + command);
  std::array<char, 4096> buf{};
  while (const auto n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = ::pclose(p);
  if (status != 0) throw std::runtime_error(command + " failed:\n" + out);
  return out;
}

void pg_cluster::start() {
  const std::string options = "-c listen_addresses='' -c unix_socket_directories='" +
                              dir_.string() + "' -c fsync=" + (durable_ ? "on" : "off") +
                              " -c max_connections=60";
  run(quoted((bin_ / "pg_ctl").string()) + " -D " + quoted((dir_ / "data").string()) + " -l " +
      quoted((dir_ / "server.log").string()) + " -o " + quoted(options) + " -w -t 60 start");
  running_ = true;
}

void pg_cluster::stop() {
  run(quoted((bin_ / "pg_ctl").string()) + " -D " + quoted((dir_ / "data").string()) +
      " -m fast -w -t 60 stop");
  running_ = false;
}

std::string pg_cluster::url(const std::string& db) const {
  return "postgresql://bettensor@/" + db + "?host=" + dir_.string();
}

std::string pg_cluster::create_database(const std::string& name) {
  psql("CREATE DATABASE " + name);
  return url(name);
}

std::string pg_cluster::psql(const std::string& sql, const std::string& db) {
  return run(quoted((bin_ / "psql").string()) + " -X -q -At -v ON_ERROR_STOP=1 -h " +
                 quoted(dir_.string()) + " -U bettensor -d " + quoted(db) + " -c " + quoted(sql),
             false);
}

}  // namespace bettensor::test
