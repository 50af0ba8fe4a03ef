/*
 * authcheck.c - a command-line front to broker/auth.c for tests/auth/interop.sh: checks a
 * password against a password file, or topics against an ACL file, as moted would.
 *
 *   authcheck passwd FILE USER PASSWORD          exit 0: accepted, 1: refused, 2: bad file
 *   authcheck acl FILE USER|- CLIENT_ID read|write|subscribe TOPIC...
 *                                                prints "allowed TOPIC" or "denied TOPIC"
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"

int main(int argc, char **argv)
{
    char err[512];
    if (argc == 5 && !strcmp(argv[1], "passwd")) {
        struct moted_passwd *pf = moted__passwd_load(argv[2], err, sizeof err);
        int ok;
        if (!pf) {
            fprintf(stderr, "authcheck: %s\n", err);
            return 2;
        }
        ok = moted__passwd_check(pf, argv[3], strlen(argv[3]), (const uint8_t *)argv[4],
                                 strlen(argv[4]));
        moted__passwd_free(pf);
        return ok ? 0 : 1;
    }
    if (argc >= 7 && !strcmp(argv[1], "acl")) {
        struct moted_acl *acl = moted__acl_load(argv[2], err, sizeof err);
        const char *user = strcmp(argv[3], "-") ? argv[3] : NULL;
        int access = !strcmp(argv[5], "read")        ? MOTED_ACL_READ
                     : !strcmp(argv[5], "write")     ? MOTED_ACL_WRITE
                     : !strcmp(argv[5], "subscribe") ? MOTED_ACL_SUBSCRIBE
                                                     : 0;
        if (!acl) {
            fprintf(stderr, "authcheck: %s\n", err);
            return 2;
        }
        if (!access) {
            fprintf(stderr, "authcheck: access is read, write or subscribe\n");
            moted__acl_free(acl);
            return 2;
        }
        for (int i = 6; i < argc; i++)
            printf("%s %s\n",
                   moted__acl_check(acl, user, argv[4], (const uint8_t *)argv[i], strlen(argv[i]),
                                    access)
                       ? "allowed"
                       : "denied",
                   argv[i]);
        moted__acl_free(acl);
        return 0;
    }
    fprintf(stderr, "usage: authcheck passwd FILE USER PASSWORD\n"
                    "       authcheck acl FILE USER|- CLIENT_ID read|write|subscribe TOPIC...\n");
    return 2;
}
