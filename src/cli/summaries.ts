/** One line per subcommand, for `emotion-kiosk --help` and each command's own help. Pure data: no command imports another. */
export const SUMMARIES = {
  run:
    'run the kiosk: camera -> faces -> emotions -> events (display, MQTT, dashboard)',
  evaluate:
    'measure a model on a folder of labelled face crops (<class>/<image>, e.g. FER2013 test/)',
  config:
    'print the effective configuration (defaults < config file < EMOTION_KIOSK_* environment) or check a file',
  doctor:
    'check camera access, model files, the OpenCV build, the broker, disk space for the outbox, the clock and the OS; print what to fix (exit 1 when something fails)',
  dashboard:
    'terminal dashboard of one or many kiosks over MQTT (q quit, d/Tab next device, p pause)',
  fleet:
    'fleet operations over MQTT: keygen / sign / verify models, status of every kiosk, command <device|all> <command> [json]',
} as const;
