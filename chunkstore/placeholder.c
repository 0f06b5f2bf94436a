/* placeholder until the layer lands */ typedef int cairn_chunkstore_placeholder;
