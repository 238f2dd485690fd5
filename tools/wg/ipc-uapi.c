// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace backend: implementations such as wireguard-go listen on
 * /var/run/wireguard/NAME.sock (a stream unix socket) and speak the text
 * protocol built and parsed in uapi-text.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "ipc.h"
#include "uapi-text.h"

static const char *sock_dir(void)
{
	const char *dir = getenv("WG_UAPI_SOCKET_DIR");	/* for tests */

	return dir && *dir ? dir : "/var/run/wireguard";
}

static int sock_path(char *buf, size_t n, const char *name)
{
	if (!*name || strchr(name, '/') || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	if ((size_t)snprintf(buf, n, "%s/%s.sock", sock_dir(), name) >= n)
		return -ENAMETOOLONG;
	return 0;
}

bool uapi_has_device(const char *name)
{
	struct sockaddr_un addr;
	struct stat st;

	if (sock_path(addr.sun_path, sizeof(addr.sun_path), name))
		return false;
	return !stat(addr.sun_path, &st) && S_ISSOCK(st.st_mode);
}

static int uapi_connect(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	ret = sock_path(addr.sun_path, sizeof(addr.sun_path), name);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads until the reply's terminating empty line (or EOF). */
static int read_reply(int fd, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = xrealloc(NULL, cap, 1);
	ssize_t r;

	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap, 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (!r)
			break;
		n += (size_t)r;
		if ((n >= 2 && buf[n - 1] == '\n' && buf[n - 2] == '\n') || (n == 1 && buf[0] == '\n'))
			break;
	}
	*out = buf;
	*len = n;
	return 0;
}

int uapi_get_device(struct wg_device *dev, const char *name)
{
	char *reply = NULL;
	size_t len;
	int fd, ret;

	fd = uapi_connect(name);
	if (fd < 0)
		return fd;
	ret = write_all(fd, "get=1\n\n", 7);
	if (!ret)
		ret = read_reply(fd, &reply, &len);
	close(fd);
	if (ret)
		return ret;
	ret = uapi_parse_get(dev, reply, len);
	free(reply);
	if (ret) {
		device_free(dev);
		return ret;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	return 0;
}

int uapi_set_device(const struct wg_device *dev)
{
	char *req, *reply = NULL;
	size_t len;
	int fd, ret;

	fd = uapi_connect(dev->name);
	if (fd < 0)
		return fd;
	req = uapi_build_set(dev, &len);
	ret = write_all(fd, req, len);
	free(req);
	if (!ret)
		ret = read_reply(fd, &reply, &len);
	close(fd);
	if (ret)
		return ret;
	ret = uapi_parse_errno(reply, len);
	free(reply);
	return ret;
}

int uapi_list_devices(char **buf, size_t *len, size_t *cap)
{
	struct dirent *ent;
	DIR *dir = opendir(sock_dir());
	size_t n;
	char *dot;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((ent = readdir(dir))) {
		n = strlen(ent->d_name);
		dot = strrchr(ent->d_name, '.');
		if (!dot || strcmp(dot, ".sock") || dot == ent->d_name || (size_t)(dot - ent->d_name) >= IFNAMSIZ)
			continue;
		*dot = '\0';
		if (!uapi_has_device(ent->d_name))
			continue;
		n = strlen(ent->d_name) + 1;
		while (*len + n + 1 > *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*buf = xrealloc(*buf, *cap, 1);
		}
		memcpy(*buf + *len, ent->d_name, n);
		*len += n;
	}
	closedir(dir);
	return 0;
}
