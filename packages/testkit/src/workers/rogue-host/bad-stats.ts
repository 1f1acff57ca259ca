import { runRogueHost } from './rogue-host.js';

runRogueHost('bad-stats');
