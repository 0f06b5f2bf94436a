/* placeholder until the layer lands */ typedef int cairn_gateway_placeholder;
