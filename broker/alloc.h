/*
 * alloc.h - the one way moted allocates: every byte is counted, and a configured limit
 * (`memory_limit`, as in Mosquitto) makes allocations fail instead of the kernel's OOM killer
 * picking a victim. A failed allocation returns NULL; callers turn that into the protocol's
 * answer (e.g. "Quota exceeded" or "Server busy"), never a crash.
 */
#ifndef MOTED_ALLOC_H
#define MOTED_ALLOC_H

#include <stddef.h>

void *moted__malloc(size_t size);
void *moted__calloc(size_t n, size_t size);
void *moted__realloc(void *p, size_t size);
void moted__free(void *p);
char *moted__strndup(const char *s, size_t n);

/* Bytes allocated now, and the most ever. */
size_t moted__mem_used(void);
size_t moted__mem_peak(void);
/* 0 = no limit. */
void moted__mem_set_limit(size_t limit);

#endif /* MOTED_ALLOC_H */
