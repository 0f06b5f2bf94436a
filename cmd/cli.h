/*
 * cmd/cli.h - the client subcommands of `cairn` (they talk to a running
 * server over HTTP).  argv[0] is the subcommand name.  Each returns the
 * process exit code: 0 success, 1 failure, 2 usage error.
 */
#ifndef CAIRN_CMD_CLI_H
#define CAIRN_CMD_CLI_H

int cmd_admin(int argc, char **argv);
int cmd_presign(int argc, char **argv);

#endif
