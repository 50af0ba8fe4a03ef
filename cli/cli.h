/*
 * cli.h - the subcommands of `mote`, one file each (cli/<name>.c), dispatched by cli/main.c;
 * pub, sub and doctor share their connection code (cli/conn.c, cli/conn.h).
 * Each takes the arguments after its name (argv[0] is the subcommand) and returns the process
 * exit status: 0 success, 1 failure (explained on stderr), 2 usage error.
 */
#ifndef MOTE_CLI_H
#define MOTE_CLI_H

int mote_cmd_certs(int argc, char **argv);
int mote_cmd_passwd(int argc, char **argv);
int mote_cmd_pub(int argc, char **argv);
int mote_cmd_sub(int argc, char **argv);
int mote_cmd_doctor(int argc, char **argv);

#endif /* MOTE_CLI_H */
