/* venv-publish: the published ports of a --net private env, asked of slirp4netns.
 *
 *   venv-publish API_SOCKET < run/settings
 *
 * runtime/env-net.sh runs it in the keeper when the env starts, before any process of
 * the env, with slirp4netns's API socket. Each "publish" line of run/settings (fields
 * split by tabs: publish tcp HOST_ADDRESS HOST_PORT ENV_PORT, written by node from
 * checked settings) becomes one add_hostfwd request, a connection each, as the API
 * wants. On the first refusal it prints one line on stdout saying which port and why
 * (the session's error message) and exits 1; the keeper then ends the env, slirp4netns
 * with it. slirp4netns only says "slirp_add_hostfwd failed": the usual cause, a port
 * another program holds, is found by trying to listen on it here. 125 for a usage or
 * system error. Where no compiler built this, env-net.sh runs publish-ports.js (node),
 * which does the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef VENV_VERSION
#define VENV_VERSION "unknown"
#endif

#define EXIT_VENV 125

static void die(const char *what)
{
  fprintf(stderr, "venv-publish: %s: %s\n", what, strerror(errno));
  exit(EXIT_VENV);
}

static int parse_port(const char *text)
{
  char *end;
  errno = 0;
  long n = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || n < 1 || n > 65535)
    return -1;
  return (int)n;
}

/* Sends one request and reads the reply (slirp4netns answers, then closes). */
static void ask(const char *socket_path, const char *request, char *reply, size_t size)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    die(socket_path);
  }
  strcpy(addr.sun_path, socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1)
    die("socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
    die(socket_path);
  size_t length = strlen(request);
  for (size_t sent = 0; sent < length;) {
    ssize_t n = write(fd, request + sent, length - sent);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      die("writing to slirp4netns's API socket");
    sent += (size_t)n;
  }
  if (shutdown(fd, SHUT_WR) == -1)
    die("shutdown");
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, reply + got, size - 1 - got);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      die("reading slirp4netns's reply");
    if (n == 0 || (got += (size_t)n) == size - 1)
      break;
  }
  reply[got] = '\0';
  close(fd);
}

/* Why the host port could not be listened on, tried here as slirp4netns would (with
 * SO_REUSEADDR, so that connections in TIME_WAIT do not count). */
static const char *why_refused(const char *address, int port)
{
  static char why[128];
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, address, &addr.sin_addr) != 1)
    return "it cannot listen there";
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1)
    return "it cannot listen there";
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const char *result = "it cannot listen there";
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1 || listen(fd, 1) == -1) {
    if (errno == EADDRINUSE) {
      result = "another program listens on it";
    } else {
      snprintf(why, sizeof why, "the host refused: %s", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
      result = why;
    }
  }
  close(fd);
  return result;
}

int main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    puts("venv-publish " VENV_VERSION);
    return 0;
  }
  if (argc != 2) {
    fputs("Usage: venv-publish API_SOCKET < run/settings\n", stderr);
    return EXIT_VENV;
  }
  char *line = NULL;
  size_t capacity = 0;
  ssize_t length;
  while ((length = getline(&line, &capacity, stdin)) != -1) {
    if (length > 0 && line[length - 1] == '\n')
      line[length - 1] = '\0';
    char *fields[5];
    char *rest = line;
    int count = 0;
    while (count < 5 && rest != NULL)
      fields[count++] = strsep(&rest, "\t");
    if (count < 1 || strcmp(fields[0], "publish") != 0)
      continue;
    struct in_addr checked;
    int host_port = count == 5 && rest == NULL ? parse_port(fields[3]) : -1;
    int env_port = host_port == -1 ? -1 : parse_port(fields[4]);
    if (env_port == -1 || strcmp(fields[1], "tcp") != 0 || inet_pton(AF_INET, fields[2], &checked) != 1) {
      fputs("venv-publish: a publish line of run/settings is not \"publish tcp ADDRESS PORT PORT\"\n", stderr);
      return EXIT_VENV;
    }
    char request[256];
    snprintf(request, sizeof request,
             "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"%s\","
             "\"host_port\":%d,\"guest_port\":%d}}",
             fields[2], host_port, env_port);
    char reply[4096];
    ask(argv[1], request, reply, sizeof reply);
    if (strstr(reply, "\"return\"") == NULL) {
      fprintf(stderr, "slirp4netns: %s\n", reply);
      printf("cannot publish tcp port %d on %s for the env's port %d: %s\n", host_port, fields[2], env_port,
             why_refused(fields[2], host_port));
      return 1;
    }
  }
  free(line);
  if (ferror(stdin))
    die("reading run/settings");
  return 0;
}
