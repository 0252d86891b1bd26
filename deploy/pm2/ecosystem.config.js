// pm2 start deploy/pm2/ecosystem.config.js   (then: pm2 save; pm2 startup)
// A validator and a miner the way Bettensor's scripts/start_neuron.sh starts its neurons: the
// same flags (--netuid, --subtensor.network, --wallet.*, --axon.port, --logging.*), the binaries
// on the PATH (or set BETTENSOR_BIN_DIR). Edit the wallet names, ports and network to yours;
// every command line here is checked in CI with --check-config.
const path = require('node:path');

const bin = (name) => path.join(process.env.BETTENSOR_BIN_DIR || '/usr/local/bin', name);
const network = ['--subtensor.network', 'finney', '--netuid', '30'];

module.exports = {
  apps: [
    {
      name: 'bettensor-validator',
      script: bin('bettensor-validator'),
      interpreter: 'none',
      args: [
        ...network,
        '--wallet.name', 'validator', '--wallet.hotkey', 'default',
        '--axon.port', '10401',
        '--db.path', 'validator.db',
        '--metrics.port', '9401',
        '--logging.info',
      ],
      kill_timeout: 30000,  // SIGTERM, then up to 30 s to close connections and flush
      max_restarts: 50,
      restart_delay: 5000,
    },
    {
      name: 'bettensor-miner',
      script: bin('bettensor-miner'),
      interpreter: 'none',
      args: [
        ...network,
        '--wallet.name', 'miner', '--wallet.hotkey', 'default',
        '--validator_min_stake', '10000',
        '--db.path', 'miner.db',
        '--api.port', '10402',
        '--metrics.port', '9402',
        '--logging.info',
      ],
      kill_timeout: 15000,
      max_restarts: 50,
      restart_delay: 5000,
    },
  ],
};
