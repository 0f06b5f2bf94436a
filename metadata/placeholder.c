/* placeholder until the layer lands */ typedef int cairn_metadata_placeholder;
