// Include first in a .cc file with large Asio coroutines: GCC 12 misreads Asio's coroutine frame
// allocator (operator new/delete of awaitable_frame_base) as mismatched in them (GCC PR 109224,
// fixed in GCC 13). One place for the workaround instead of a copy per file.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
