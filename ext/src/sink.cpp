// The product's sink, compiled once here; the definitions are in sink_impl.h.
#include "sink_impl.h"

namespace mapioffline {

template class BasicSink<MpscRing<StoredRecord>>;

}  // namespace mapioffline
