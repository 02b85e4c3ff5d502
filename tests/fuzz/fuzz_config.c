/* Fuzzes the config file parser: any input is accepted or refused with a
 * message, never a crash; accepted settings keep their invariants. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *copy = malloc(size);
    memcpy(copy, data, size);
    FILE *f = fmemopen(copy, size, "r");
    if (f == NULL) {
        free(copy);
        return 0;
    }
    config_t c;
    char err[512] = "";
    config_init(&c);
    int rc = config_load_stream(&c, f, "fuzz", err, sizeof(err));
    fclose(f);
    free(copy);
    if (rc != 0 && err[0] == '\0')
        abort();
    if (rc == 0 && config_finish(&c, err, sizeof(err)) == 0) {
        if (c.listen_port < 0 || c.listen_port > 65535 || c.threads < 1 || c.max_body > c.max_upload)
            abort();
    }
    config_free(&c);
    return 0;
}
