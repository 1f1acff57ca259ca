export * from './encryption-policy.js';
export * from './mse-handshake.js';
export { Rc4, type Rc4State } from './rc4.js';
