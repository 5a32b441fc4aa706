# Loads a Vagrantfile through Vagrant's own config loader and prints, as JSON, what each machine
# would be configured with. Used by tests/validators.rs, which makes the assertions; this script
# only reports facts (and the raw Ruby class of values that Vagrant would silently convert).
#
# usage: ruby vagrant_inspect.rb DIR HOME DOTFILE_DIR
#   DIR          folder holding the Vagrantfile (a temporary copy: Vagrant may write beside it)
#   HOME         a temporary VAGRANT_HOME
#   DOTFILE_DIR  a temporary local data path (what VAGRANT_DOTFILE_PATH would be)
#
# Exit 0 with one JSON document on stdout, or exit 1 with {"error": "..."}.

require "json"

dir, home, dotfile = ARGV
unless dir && home && dotfile
  warn "usage: vagrant_inspect.rb DIR HOME DOTFILE_DIR"
  exit 2
end

def describe(value)
  case value
  when Symbol then { "class" => "Symbol", "value" => value.to_s }
  when String, Integer, Float, TrueClass, FalseClass, NilClass
    { "class" => value.class.name, "value" => value }
  when Array then { "class" => "Array", "value" => value.map { |v| describe(v) } }
  when Hash
    { "class" => "Hash", "value" => value.map { |k, v| [k.to_s, describe(v)] }.to_h }
  else { "class" => value.class.name, "value" => value.to_s }
  end
end

begin
  require "vagrant"

  env = Vagrant::Environment.new(
    cwd: dir,
    home_path: home,
    local_data_path: dotfile,
    ui_class: Vagrant::UI::Silent,
  )

  # The VirtualBox provider converts memory with to_s and cpus with to_i, so a Float or a String
  # would pass unnoticed. Record what the Vagrantfile assigned before the conversion.
  vbox_config = Vagrant.plugin("2").manager.provider_configs[:virtualbox]
  raise "the VirtualBox provider plugin is not loaded" unless vbox_config

  recorder = Module.new do
    def memory=(size)
      @gen_raw_memory = size
      super
    end

    def cpus=(count)
      @gen_raw_cpus = count
      super
    end
  end
  vbox_config.prepend(recorder)

  machines = env.machine_names.map do |name|
    config = env.vagrantfile.machine_config(name, :virtualbox, env.boxes)[:config]
    providers = config.vm.instance_variable_get(:@__providers).keys
    # A machine with only a libvirt block is loaded as Vagrant would load it for that provider,
    # so that its provider overrides apply.
    if providers.include?(:libvirt) && !providers.include?(:virtualbox)
      raise "the vagrant-libvirt plugin is not loaded" unless Vagrant.plugin("2").manager.provider_configs[:libvirt]
      config = env.vagrantfile.machine_config(name, :libvirt, env.boxes)[:config]
    end
    vm = config.vm
    vb = vm.get_provider_config(:virtualbox)
    lv = providers.include?(:libvirt) ? vm.get_provider_config(:libvirt) : nil
    raw = lambda do |ivar|
      vb.instance_variable_defined?(ivar) ? describe(vb.instance_variable_get(ivar)) : nil
    end

    {
      "name" => name.to_s,
      "box" => describe(vm.box),
      "box_version" => describe(vm.box_version),
      "box_check_update" => describe(vm.box_check_update),
      "hostname" => describe(vm.hostname),
      "networks" => vm.networks.map { |type, opts| { "type" => type.to_s, "options" => describe(opts) } },
      "providers" => vm.instance_variable_get(:@__providers).keys.map(&:to_s),
      "virtualbox" => {
        "name" => describe(vb.name),
        "raw_memory" => raw.call(:@gen_raw_memory),
        "raw_cpus" => raw.call(:@gen_raw_cpus),
        "customizations" => vb.customizations.map { |event, cmd| { "event" => event, "command" => describe(cmd) } },
      },
      "libvirt" => lv && %w[uri default_prefix driver cpus memory disk_bus nic_model_type
                              management_network_name management_network_address
                              management_network_keep].to_h { |k| [k, describe(lv.public_send(k))] },
      "provisioners" => vm.provisioners.map do |p|
        c = p.config
        ivars = c.instance_variables.map { |iv| [iv.to_s.delete_prefix("@"), describe(c.instance_variable_get(iv))] }
        { "type" => p.type.to_s, "name" => describe(p.name), "run" => describe(p.run), "config" => ivars.to_h }
      end,
    }
  end

  puts JSON.generate({ "vagrant_version" => Vagrant::VERSION, "machines" => machines })
rescue Exception => e
  puts JSON.generate({ "error" => "#{e.class}: #{e.message}" })
  exit 1
end
