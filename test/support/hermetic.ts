/**
 * Imported by every test module that starts tork processes: `pnpm test` sets TORK_HERMETIC=1 for
 * the run, and this sets it too when a test file is run by hand with `node --test`, so a tork the
 * test starts never bootstraps its DHT from the public routers nor multicasts LSD onto the LAN
 * (children inherit the environment). A test that means to turn either on passes the flags itself.
 */
process.env.TORK_HERMETIC ??= '1';
