import { runRogueHost } from './rogue-host.js';

runRogueHost('idle');
