#!/bin/sh
# First start of the Docker Compose stack: creates a hotkey per program (kept in its own volume,
# never replaced), then a metagraph listing them and a schedule of upcoming games in the shared
# volume. Real deployments replace the metagraph with a chain snapshot and the games with their
# own feed. BETTENSOR_ROOT prefixes every path (the CI check runs this script outside Docker).
set -eu
root=${BETTENSOR_ROOT:-}
miners=${BETTENSOR_MINERS:-3}

hotkey() { # <wallet dir> <wallet name>: creates the hotkey once, prints its SS58 address
  if [ ! -f "$1/$2/hotkeys/default" ]; then
    bettensor-keygen --wallet.path "$1" --wallet.name "$2" --wallet.hotkey default >/dev/null
  fi
  bettensor-keygen --wallet.path "$1" --wallet.name "$2" --wallet.hotkey default --show |
    sed -n 's/.*\(5[1-9A-HJ-NP-Za-km-z]\{47\}\).*/\1/p' | head -n 1
}

validator=$(hotkey "$root/wallets/validator" validator)
neurons="{\"uid\":0,\"hotkey\":\"$validator\",\"validator_permit\":true,\"stake\":50000.0,\"axon\":{\"ip\":\"validator\",\"port\":10401}}"
i=1
while [ "$i" -le "$miners" ]; do
  key=$(hotkey "$root/wallets/miner$i" miner)
  neurons="$neurons,{\"uid\":$i,\"hotkey\":\"$key\",\"validator_permit\":false,\"stake\":10.0,\"axon\":{\"ip\":\"0.0.0.0\",\"port\":0}}"
  i=$((i + 1))
done
mkdir -p "$root/shared"
printf '{"netuid":30,"block":1,"neurons":[%s]}\n' "$neurons" >"$root/shared/metagraph.json.tmp"
mv "$root/shared/metagraph.json.tmp" "$root/shared/metagraph.json"

if [ ! -f "$root/shared/games.json" ]; then
  now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
  game() { # <id> <team a> <team b> <sport> <league> <hours ahead> <odds a> <odds b> <tie odds|null>
    start=$(date -u -d "+$6 hours" +%Y-%m-%dT%H:%M:%S+00:00)
    can_tie=false
    [ "$9" = null ] || can_tie=true
    printf '{"game_id":"%s","team_a":"%s","team_b":"%s","sport":"%s","league":"%s","create_date":"%s","last_update_date":"%s","event_start_date":"%s","active":true,"outcome":"Unfinished","team_a_odds":%s,"team_b_odds":%s,"tie_odds":%s,"can_tie":%s}' \
      "$1" "$2" "$3" "$4" "$5" "$now" "$now" "$start" "$7" "$8" "$9" "$can_tie"
  }
  {
    printf '['
    game compose-1 Arsenal Chelsea soccer EPL 24 2.1 3.4 3.25
    printf ','
    game compose-2 Lakers Celtics basketball NBA 48 1.85 2.0 null
    printf ','
    game compose-3 Chiefs Bills football NFL 72 1.7 2.2 null
    printf ']\n'
  } >"$root/shared/games.json"
fi

# The programs run as the image's unprivileged user.
if [ "$(id -u)" = 0 ] && id bettensor >/dev/null 2>&1; then
  chown -R bettensor:bettensor "$root/wallets" "$root/shared"
  for d in "$root"/data/*; do [ -d "$d" ] && chown bettensor:bettensor "$d"; done
fi
echo "validator $validator and $miners miners ready"
