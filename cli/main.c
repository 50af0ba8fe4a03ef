/*
 * main.c - `mote`, the command line of mote: a table of subcommands, each in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
#ifdef MOTE_CLI_LIBMOTE /* needs lib/tls, hence BearSSL (cli/CMakeLists.txt) */
    {"pub", mote_cmd_pub, "publish a message (mosquitto_pub's flags), as a device would"},
    {"sub", mote_cmd_sub, "subscribe and print messages (mosquitto_sub's flags)"},
    {"doctor", mote_cmd_doctor, "connect as a device would and explain what fails, and why"},
#endif
    {"certs", mote_cmd_certs, "a CA and certificates small devices can use"},
    {"passwd", mote_cmd_passwd, "create and update moted password files (Mosquitto's format)"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: mote COMMAND [ARGS]\n\n"
                 "mote is the command line of mote, secure MQTT for the smallest devices.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'mote COMMAND --help' describes each.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mote: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
