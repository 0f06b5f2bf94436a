/* sync-client/sync_error.c - the layer's error names (see sync.h). */
#include "sync-client/sync.h"

#include <string.h>

const char *sync_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case SYNC_EINVAL: return "invalid argument";
    case SYNC_ETOOLONG: return "path, name or list too long";
    case SYNC_ENOTFOUND: return "not in the index";
    case SYNC_ECORRUPT: return "corrupt index record";
    case SYNC_EFULL: return "index map full";
    case SYNC_EEXIST: return "no free conflict-copy name";
    case SYNC_ERDONLY: return "write in a read-only transaction";
    case SYNC_EOFFLINE: return "server unreachable";
    case SYNC_ECONFLICT: return "changed on the server";
    case SYNC_EMISSING: return "server lacks chunks of the commit";
    case SYNC_EAUTH: return "access denied by the server";
    case SYNC_ESERVER: return "server error";
    case SYNC_EPROTO: return "unexpected answer from the server";
    case SYNC_EBUSY: return "file changed while it was read";
    case SYNC_ELOCKED: return "another cairn-sync process syncs this folder";
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown sync error";
}
