// The client behind a request (see forwarded_client in server.hpp), on Asio addresses.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <string_view>
#include <vector>

namespace bettensor::transport::detail {

boost::asio::ip::address client_behind(const boost::asio::ip::address& peer,
                                       std::string_view forwarded,
                                       const std::vector<boost::asio::ip::address>& trusted);

}  // namespace bettensor::transport::detail
