/* Switches the calling process to the env's user SPEC (USER[:GROUP]): switch-user.c. */
#ifndef VENV_SWITCH_USER_H
#define VENV_SWITCH_USER_H

/* Sets the groups, the gid and the uid SPEC names in the env's /etc/passwd and /etc/group
 * (read after the chroot), and HOME for a user other than root; on any failure, one line
 * and a hint on stderr and exit 125. */
void switch_user(const char *spec);

#endif
